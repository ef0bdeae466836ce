#!/usr/bin/env python3
"""Writes the pinned subset of the official AWS service models that the local
cloud's wire validator (localcloud/awsproto/wire.go) checks every answer
against: for each service, the operations the local cloud serves, the output
and error shapes they reach, and the service's metadata (protocol, JSON
version, target prefix, XML namespace).

The source is botocore's copy of the models (data/<service>/<version>/
service-2.json.gz). Documentation strings are dropped; everything the
validator reads (members, required, enum, timestampFormat, locationName,
location, flattened, error codes) is kept as the model has it.

Run it after adding an operation to the local cloud:

    python3 scripts/gen-service-models.py          # needs botocore==BOTOCORE_VERSION
"""
import gzip
import json
import os
import sys

BOTOCORE_VERSION = "1.43.11"

# service file name -> (botocore name, API version, operations served).
SERVICES = {
    "eks": ("eks", "2017-11-01", [
        "RegisterCluster", "DescribeCluster", "ListClusters", "DeregisterCluster",
        "TagResource", "UntagResource", "ListTagsForResource"]),
    "lambda": ("lambda", "2015-03-31", [
        "Invoke", "AddPermission", "GetPolicy", "RemovePermission"]),
    "states": ("stepfunctions", "2016-11-23", [
        "CreateStateMachine", "DescribeStateMachine", "ListStateMachines", "StartExecution",
        "DescribeExecution", "StopExecution", "GetExecutionHistory", "ListExecutions"]),
    "ssm": ("ssm", "2014-11-06", [
        "PutParameter", "GetParameter", "GetParameters", "GetParametersByPath", "DeleteParameter",
        "DeleteParameters", "DescribeParameters", "GetParameterHistory", "CreateActivation",
        "DescribeActivations", "DeleteActivation", "DescribeInstanceInformation",
        "DeregisterManagedInstance"]),
    "sqs": ("sqs", "2012-11-05", [
        "CreateQueue", "GetQueueUrl", "GetQueueAttributes", "SendMessage", "ReceiveMessage",
        "DeleteMessage", "DeleteQueue", "SetQueueAttributes", "ListQueues"]),
    "events": ("events", "2015-10-07", [
        "PutEvents", "PutRule", "PutTargets", "RemoveTargets", "DeleteRule", "DescribeRule",
        "EnableRule", "DisableRule", "ListRules", "ListTargetsByRule", "TestEventPattern",
        "CreateEventBus", "DescribeEventBus"]),
    "iam": ("iam", "2010-05-08", [
        "CreateServiceLinkedRole", "CreateRole", "GetRole", "ListRoles", "UpdateAssumeRolePolicy",
        "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy",
        "ListAttachedRolePolicies", "AttachRolePolicy", "DetachRolePolicy", "CreatePolicy",
        "GetPolicy", "ListPolicies", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion",
        "ListPolicyVersions", "SetDefaultPolicyVersion", "DeletePolicyVersion", "DeleteRole",
        "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary"]),
    "sts": ("sts", "2011-06-15", ["GetCallerIdentity"]),
    "cloudformation": ("cloudformation", "2010-05-15", ["DescribeStacks"]),
}

METADATA = ["apiVersion", "protocol", "jsonVersion", "targetPrefix", "xmlNamespace",
            "signingName", "endpointPrefix", "serviceId", "awsQueryCompatible", "timestampFormat"]
OPERATION = ["name", "http", "input", "output", "errors"]
DROP = {"documentation", "documentationUrl", "deprecated", "deprecatedMessage", "box"}


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k not in DROP}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def reach(shapes, name, seen):
    if name in seen:
        return
    seen.add(name)
    s = shapes[name]
    for m in s.get("members", {}).values():
        reach(shapes, m["shape"], seen)
    for k in ("member", "key", "value"):
        if k in s:
            reach(shapes, s[k]["shape"], seen)


def main():
    import botocore
    if botocore.__version__ != BOTOCORE_VERSION:
        sys.exit(f"botocore {botocore.__version__} is installed; these models are pinned to {BOTOCORE_VERSION}")
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    out = os.path.join(os.path.dirname(__file__), "..", "localcloud", "awsproto", "models")
    os.makedirs(out, exist_ok=True)
    for file, (name, version, ops) in sorted(SERVICES.items()):
        src = os.path.join(data, name, version, "service-2.json.gz")
        with gzip.open(src) as f:
            model = json.load(f)
        shapes, keep, operations = model["shapes"], set(), {}
        for op in ops:
            o = model["operations"][op]
            operations[op] = {k: strip(o[k]) for k in OPERATION if k in o}
            operations[op].pop("input", None)  # the validator checks answers only
            if "output" in o:
                reach(shapes, o["output"]["shape"], keep)
            for e in o.get("errors", []):
                reach(shapes, e["shape"], keep)
        sub = {
            "source": f"botocore {BOTOCORE_VERSION} data/{name}/{version}/service-2.json.gz",
            "metadata": {k: model["metadata"][k] for k in METADATA if k in model["metadata"]},
            "operations": operations,
            "shapes": {k: strip(shapes[k]) for k in sorted(keep)},
        }
        path = os.path.join(out, file + ".json")
        with open(path, "w") as f:
            json.dump(sub, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{path}: {len(operations)} operations, {len(keep)} shapes, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
