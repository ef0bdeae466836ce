package iam

import (
	"time"
)

type xmlBoundary struct {
	PermissionsBoundaryType string `xml:"PermissionsBoundaryType"`
	PermissionsBoundaryArn  string `xml:"PermissionsBoundaryArn"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type xmlTags = members[xmlTag]

// tagsXML renders tags; nil (no element) for none.
func tagsXML(tags []Tag) *xmlTags {
	if len(tags) == 0 {
		return nil
	}
	x := &xmlTags{}
	for _, t := range tags {
		x.Members = append(x.Members, xmlTag(t))
	}
	return x
}

// tagMap is tags as a snapshot gives them.
func tagMap(tags []Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

type xmlRoleLastUsed struct{}

type xmlRole struct {
	Path                     string           `xml:"Path"`
	RoleName                 string           `xml:"RoleName"`
	RoleId                   string           `xml:"RoleId"`
	Arn                      string           `xml:"Arn"`
	CreateDate               string           `xml:"CreateDate"`
	AssumeRolePolicyDocument string           `xml:"AssumeRolePolicyDocument,omitempty"`
	Description              string           `xml:"Description,omitempty"`
	MaxSessionDuration       int              `xml:"MaxSessionDuration,omitempty"`
	PermissionsBoundary      *xmlBoundary     `xml:"PermissionsBoundary,omitempty"`
	Tags                     *xmlTags         `xml:"Tags,omitempty"`
	RoleLastUsed             *xmlRoleLastUsed `xml:"RoleLastUsed,omitempty"`
}

// isoDate is IAM's dateType rendering: ISO 8601, UTC, whole seconds.
func isoDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

type roleView int

const (
	viewCreate roleView = iota // CreateRole / CreateServiceLinkedRole
	viewGet                    // GetRole: everything, with RoleLastUsed
	viewList                   // ListRoles: no tags, boundary or last-used
)

func (r *role) xml(v roleView) *xmlRole {
	x := &xmlRole{
		Path: r.path, RoleName: r.name, RoleId: r.id, Arn: r.arn, CreateDate: isoDate(r.created),
		// IAM returns policy documents URL-encoded (RFC 3986); the SDK does
		// not decode them.
		AssumeRolePolicyDocument: encodeRFC3986(r.trust),
		Description:              r.description,
	}
	if v != viewCreate {
		x.MaxSessionDuration = r.maxSession
	}
	if v != viewList {
		if r.boundary != "" {
			x.PermissionsBoundary = &xmlBoundary{"PermissionsBoundaryPolicy", r.boundary}
		}
		x.Tags = tagsXML(r.tags)
	}
	if v == viewGet {
		x.RoleLastUsed = &xmlRoleLastUsed{}
	}
	return x
}
