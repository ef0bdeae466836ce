//go:build floor_iam

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

func init() { clients = append(clients, func(cfg aws.Config) any { return iam.NewFromConfig(cfg) }) }
