package template

import (
	"fmt"
)

func (l *loader) queue(r *resource) error {
	name, err := l.physicalName(r)
	if err != nil {
		return err
	}
	l.out.Queues = append(l.out.Queues, Queue{LogicalID: r.id, Name: name,
		Arn: l.arn("sqs", l.o.Region, name), URL: l.queueURL(name)})
	return nil
}

var queuePolicyProps = map[string]bool{"Queues": true, "PolicyDocument": true}

func (l *loader) queuePolicy(r *resource) error {
	p, props, _, err := l.properties(r, queuePolicyProps)
	if err != nil {
		return err
	}
	qp := QueuePolicy{LogicalID: r.id}
	urls, ok := props["Queues"].([]any)
	if !ok || len(urls) == 0 {
		return fmt.Errorf("%s.Queues: required, a list of queue URLs", p)
	}
	for i, u := range urls {
		s, _ := scalarString(u)
		arn := ""
		for _, q := range l.out.Queues {
			if q.URL == s {
				arn = q.Arn
			}
		}
		if arn == "" {
			return fmt.Errorf("%s.Queues[%d]: %v is not the URL of a queue of this template (write !Ref <Queue>)", p, i, u)
		}
		qp.QueueArns = append(qp.QueueArns, arn)
	}
	doc, ok := props["PolicyDocument"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s.PolicyDocument: required, a policy document", p)
	}
	if qp.Document, err = toJSON(doc); err != nil {
		return fmt.Errorf("%s.PolicyDocument: %v", p, err)
	}
	l.out.QueuePolicies = append(l.out.QueuePolicies, qp)
	return nil
}
