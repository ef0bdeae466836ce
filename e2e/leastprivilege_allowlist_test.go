package e2e

// The permissions template.yaml grants that no scenario can show are needed.
// Every other grant must be needed by at least one scenario of this package,
// or the least-privilege check (leastprivilege_test.go) fails. Keep this list
// short and honest: when a grant is simply unneeded, remove it from the
// template instead of adding it here. An entry that matches no unused grant
// fails the check too, so the list cannot rot.
//
// Principal "" matches every function and state machine; Resource "" matches
// every resource. Resources are written as the check prints them (see
// normalizer in leastprivilege_test.go).
var leastPrivilegeAllowlist = []allowEntry{
	{
		Action:   managedPolicyAction,
		Resource: "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
		Why: "SAM attaches it to the role of every function with Tracing: Active (Globals); Lambda sends the " +
			"function's traces with it, and the local cloud has no X-Ray",
	},
	{
		Action:   managedPolicyAction,
		Resource: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		Why: "SAM attaches it to every function role it creates; Lambda needs logs:CreateLogStream and " +
			"logs:PutLogEvents to write the function's log, which the local cloud does not emulate",
	},
	{
		Action: "logs:", // every CloudWatch Logs action of the ExecutionLogDelivery statements
		Why: "Step Functions needs these vended-log delivery actions to write the state machine's ERROR log " +
			"(Logging in the template); the local Step Functions does not write CloudWatch Logs",
	},
	{
		Action: "xray:", // the Tracing statements of the state machines
		Why:    "Step Functions needs these to send traces (Tracing: Enabled); the local cloud has no X-Ray",
	},
	{
		Action: "kms:GenerateDataKey", Principal: "RegisterClusterFunction",
		Why: "Granted only when KmsKeyArn is set: SSM encrypts an advanced-tier parameter with a data key, and an " +
			"account whose default parameter tier is Advanced or Intelligent-Tiering makes the code one; the " +
			"scenarios store standard parameters (kms:Encrypt, which TestCustomerKeyEncryptsTheCode needs)",
	},
}
