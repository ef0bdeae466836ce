#!/usr/bin/env python3
"""Writes localcloud/policy/reference/sar-subset.json: the part of the IAM
service authorization reference (SAR) this project's policies and local
cloud use, taken from the machine-readable copy cfn-lint ships
(cfnlint/data/AdditionalSpecs/Policies.json).

The tests read only the committed file, so they run on any machine. Run this
again (with the pinned cfn-lint installed: pip install cfn-lint==1.51.0) to
refresh it, and review the diff:

    python3 scripts/gen-iam-reference.py

The copy keeps cfn-lint's shape: per service, Actions (lower-cased action
name -> the resource types it can be scoped to; none means it is authorized
against "*") and Resources (resource type -> ARN formats, where cfn-lint has
replaced the resource-name placeholders with the regex ".*", and the
resource type's condition keys). cfn-lint's copy has no action-level
condition keys; those the template uses are in supplement.json, each with
its source.
"""
import json
import os
import sys

# Every service prefix template.yaml's policies name or the local cloud
# authorizes (checked by internal/templatecheck and localcloud/policy tests:
# an action of another service fails them, so extend this list and rerun).
SERVICES = ["cloudformation", "eks", "events", "iam", "kms", "lambda", "logs", "sqs", "ssm", "states", "sts", "xray"]

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "localcloud", "policy", "reference", "sar-subset.json")


def main() -> int:
    try:
        import cfnlint
        from cfnlint.version import __version__ as version
    except ImportError:
        print("cfn-lint is not installed: pip install cfn-lint==1.51.0", file=sys.stderr)
        return 2
    src = os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")
    with open(src, encoding="utf-8") as f:
        full = json.load(f)
    missing = [s for s in SERVICES if s not in full]
    if missing:
        print(f"{src} has no service {missing}", file=sys.stderr)
        return 1
    out = {
        "source": {
            "tool": "cfn-lint",
            "version": version,
            "path": "cfnlint/data/AdditionalSpecs/Policies.json",
            "generator": "scripts/gen-iam-reference.py",
        },
        "services": {s: full[s] for s in SERVICES},
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    n = sum(len(full[s]["Actions"]) for s in SERVICES)
    print(f"wrote {os.path.relpath(OUT)}: {len(SERVICES)} services, {n} actions, from cfn-lint {version} {src}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
