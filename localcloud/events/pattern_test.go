package events

import (
	"errors"
	"testing"
)

const docEvent = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
  "detail": {
    "instance-id": "i-1234567890abcdef0",
    "state": "terminated",
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.123",
    "nothing": null,
    "flag": true,
    "tags": ["blue", "prod"],
    "location": {"region": "us-east-1", "zone": "us-east-1a"},
    "items": [{"kind": "a", "n": 1}, {"kind": "b", "n": 2}]
  }
}`

func TestMatchPatternDocumented(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact source", `{"source":["aws.ec2"]}`, true},
		{"exact miss", `{"source":["aws.s3"]}`, false},
		{"any of values", `{"source":["aws.s3","aws.ec2"]}`, true},
		{"nested", `{"detail":{"state":["terminated"]}}`, true},
		{"nested miss", `{"detail":{"state":["running"]}}`, false},
		{"all fields must match", `{"source":["aws.ec2"],"detail":{"state":["running"]}}`, false},
		{"deep nested", `{"detail":{"location":{"zone":["us-east-1a"]}}}`, true},
		{"number exact", `{"detail":{"c-count":[5]}}`, true},
		{"number exact float form", `{"detail":{"c-count":[5.0]}}`, true},
		{"number vs string", `{"detail":{"c-count":["5"]}}`, false},
		{"null", `{"detail":{"nothing":[null]}}`, true},
		{"null vs absent", `{"detail":{"absent":[null]}}`, false},
		{"boolean", `{"detail":{"flag":[true]}}`, true},
		{"boolean miss", `{"detail":{"flag":[false]}}`, false},
		{"array any element", `{"detail":{"tags":["prod"]}}`, true},
		{"array no element", `{"detail":{"tags":["dev"]}}`, false},
		{"resources array", `{"resources":["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}`, true},
		{"array of objects", `{"detail":{"items":{"kind":["b"]}}}`, true},
		{"prefix", `{"time":[{"prefix":"2017-12-22"}]}`, true},
		{"prefix miss", `{"time":[{"prefix":"2018"}]}`, false},
		{"prefix ignore case", `{"detail-type":[{"prefix":{"equals-ignore-case":"ec2 instance"}}]}`, true},
		{"suffix", `{"detail":{"instance-id":[{"suffix":"def0"}]}}`, true},
		{"suffix ignore case", `{"detail":{"instance-id":[{"suffix":{"equals-ignore-case":"DEF0"}}]}}`, true},
		{"equals-ignore-case", `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, true},
		{"anything-but value", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, true},
		{"anything-but value miss", `{"detail":{"state":[{"anything-but":"terminated"}]}}`, false},
		{"anything-but list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, true},
		{"anything-but list miss", `{"detail":{"state":[{"anything-but":["stopped","terminated"]}]}}`, false},
		{"anything-but number", `{"detail":{"c-count":[{"anything-but":[1,2,3]}]}}`, true},
		{"anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, true},
		{"anything-but prefix miss", `{"detail":{"state":[{"anything-but":{"prefix":"term"}}]}}`, false},
		{"anything-but suffix", `{"detail":{"instance-id":[{"anything-but":{"suffix":"def0"}}]}}`, false},
		{"anything-but ignore case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["TERMINATED"]}}]}}`, false},
		{"anything-but wildcard", `{"detail":{"state":[{"anything-but":{"wildcard":"run*"}}]}}`, true},
		{"anything-but absent field", `{"detail":{"absent":[{"anything-but":"x"}]}}`, false},
		{"exists true", `{"detail":{"state":[{"exists":true}]}}`, true},
		{"exists true absent", `{"detail":{"absent":[{"exists":true}]}}`, false},
		{"exists false absent", `{"detail":{"absent":[{"exists":false}]}}`, true},
		{"exists false present", `{"detail":{"state":[{"exists":false}]}}`, false},
		{"exists false under absent parent", `{"nope":{"x":[{"exists":false}]}}`, true},
		{"exists on object is false", `{"detail":{"location":[{"exists":true}]}}`, false},
		{"numeric range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",301.8]}]}}`, true},
		{"numeric out of range", `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, false},
		{"numeric on string", `{"detail":{"state":[{"numeric":[">",0]}]}}`, false},
		{"wildcard", `{"source":[{"wildcard":"aws.*"}]}`, true},
		{"wildcard middle", `{"detail":{"instance-id":[{"wildcard":"i-*def0"}]}}`, true},
		{"wildcard miss", `{"detail":{"instance-id":[{"wildcard":"i-*xyz"}]}}`, false},
		{"cidr", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, true},
		{"cidr miss", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, false},
		{"mixed conditions OR", `{"detail":{"state":["running",{"prefix":"term"}]}}`, true},
		{"$or", `{"$or":[{"source":["aws.s3"]},{"detail":{"c-count":[{"numeric":[">",1]}]}}]}`, true},
		{"$or none", `{"$or":[{"source":["aws.s3"]},{"detail":{"c-count":[{"numeric":[">",10]}]}}]}`, false},
		{"$or nested", `{"detail":{"$or":[{"state":["x"]},{"flag":[true]}]}}`, true},
	}
	for _, tc := range cases {
		got, err := MatchPattern([]byte(tc.pattern), []byte(docEvent))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMatchPatternInvalid(t *testing.T) {
	for _, p := range []string{
		`[]`,
		`"x"`,
		`{}`,
		`{"source":"aws.ec2"}`,
		`{"source":[]}`,
		`{"source":[{"prefix":1}]}`,
		`{"source":[{"bogus":"x"}]}`,
		`{"source":[{"exists":"yes"}]}`,
		`{"source":[{"numeric":[">","a"]}]}`,
		`{"source":[{"numeric":[">",5,">",6]}]}`,
		`{"source":[{"numeric":[">",10,"<",5]}]}`,
		`{"source":[{"anything-but":["a",1]}]}`,
		`{"source":[{"anything-but":[]}]}`,
		`{"source":[{"wildcard":"a**b"}]}`,
		`{"source":[{"prefix":"a","suffix":"b"}]}`,
		`{"$or":[{"source":["a"]}]}`,
		`{"source":[{"cidr":"nope"}]}`,
		`not json`,
	} {
		_, err := MatchPattern([]byte(p), []byte(docEvent))
		var pe *PatternError
		if !errors.As(err, &pe) {
			t.Errorf("%s: want a PatternError, got %v", p, err)
		}
	}
}
