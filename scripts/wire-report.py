#!/usr/bin/env python3
"""Sums the wire checker's report (VALIDATE_REPORT=<file>, one line per answer
the local cloud sent: service, operation, HTTP status, violations) and lists
the operations the local cloud serves that no answer exercised.

    rm -f /tmp/wire.tsv && VALIDATE_REPORT=/tmp/wire.tsv go test -count=1 ./... ; \
        python3 scripts/wire-report.py /tmp/wire.tsv
"""
import collections
import glob
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    answers, violations = 0, 0
    ops = collections.Counter()
    errors = collections.Counter()
    with open(sys.argv[1]) as f:
        for line in f:
            service, op, status, bad = line.rstrip("\n").split("\t")
            answers += 1
            violations += int(bad)
            ops[(service, op)] += 1
            if int(status) >= 300:
                errors[(service, op)] += 1
    models = os.path.join(os.path.dirname(__file__), "..", "localcloud", "awsproto", "models")
    served = set()
    for path in glob.glob(os.path.join(models, "*.json")):
        service = os.path.basename(path)[:-5]
        with open(path) as f:
            served |= {(service, op) for op in json.load(f)["operations"]}
    seen = {k for k in ops if k[1]}
    print(f"answers checked: {answers}")
    print(f"violations: {violations}")
    print(f"distinct operations answered: {len(seen & served)} of the {len(served)} served "
          f"(+{sum(n for k, n in ops.items() if not k[1])} answers refused before any operation)")
    print(f"answers that were errors: {sum(errors.values())}")
    print("operations the local cloud serves that no test exercised:")
    for service, op in sorted(served - seen):
        print(f"  {service} {op}")
    extra = sorted(seen - served)
    if extra:
        print("operations answered that the local cloud does not serve (refused):")
        for service, op in extra:
            print(f"  {service} {op}: {ops[(service, op)]}")


if __name__ == "__main__":
    main()
