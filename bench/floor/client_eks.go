//go:build floor_eks

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

func init() { clients = append(clients, func(cfg aws.Config) any { return eks.NewFromConfig(cfg) }) }
