//go:build floor_eventbridge

package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

func init() {
	clients = append(clients, func(cfg aws.Config) any { return eventbridge.NewFromConfig(cfg) })
}
