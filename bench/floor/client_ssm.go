//go:build floor_ssm

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

func init() { clients = append(clients, func(cfg aws.Config) any { return ssm.NewFromConfig(cfg) }) }
