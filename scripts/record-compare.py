#!/usr/bin/env python3
"""Compare two local-cloud recordings (LOCALCLOUD_RECORD, localcloud/awsproto/record.go).

    record-compare.py A.jsonl B.jsonl

Each record is normalised: what is random or depends on the clock (UUIDs,
request ids, random hex ids, timestamps in ISO 8601 or epoch seconds, the
virtual clock's start) becomes a placeholder. Then the two recordings are
compared twice:

  distinct  the sets of distinct normalised records (what was said at all);
  counts    the multisets (how often), per service/op/status where they differ.

Tests that poll (DescribeExecution until done) or race (lock contention) make
the counts vary from run to run; the distinct records do not. Exit status 0
when the distinct sets are equal.
"""
import collections
import json
import re
import sys

SUBS = [
    # UUIDs of any version (request ids, message ids, activation ids, States.UUID).
    (re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'), '<uuid>'),
    # ISO 8601 / RFC 3339 times, with or without fraction and zone.
    (re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?'), '<time>'),
    # Compact SigV4-style times.
    (re.compile(r'\b\d{8}T\d{6}Z\b'), '<time>'),
    # Epoch seconds (2001..2286) or milliseconds, possibly fractional.
    (re.compile(r'(?<![\w.])1\d{9}(?:\d{3})?(?:\.\d+)?(?![\w.])'), '<epoch>'),
    # Listening ports of test servers.
    (re.compile(r'(127\.0\.0\.1|localhost)(:|%3A)\d+'), r'\1\2<port>'),
    # Opaque base64 tokens (SQS receipt handles) that encode random ids.
    (re.compile(r'(?<![A-Za-z0-9+/])(?=[A-Za-z+/]*\d)[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])'), '<base64>'),
    # The connector agent's random instance names (eks_c:<cluster>_<17 base36>).
    (re.compile(r'(eks_c:[^_"\\]+_)[0-9a-z]{17}'), r'\1<id>'),
    # IAM unique ids (role, user, key ids), drawn at random.
    (re.compile(r'\b(AROA|AIDA|AKIA|ASIA|ANPA|AGPA|AIPA)[A-Z0-9]{16,17}\b'), r'\1<id>'),
    # Random hex ids and digests of random content.
    (re.compile(r'(?<![0-9a-zA-Z])[0-9a-f]{16,}(?![0-9a-zA-Z])'), '<hex>'),
]


# Lists the local cloud orders by a random id (SSM sorts instances and
# activations by id): their elements are sorted after normalising.
ORDERED_BY_RANDOM_ID = {'InstanceInformationList', 'ActivationList'}


def sort_random_lists(v):
    if isinstance(v, dict):
        return {k: (sorted((sort_random_lists(e) for e in x), key=lambda e: substitute(json.dumps(e, sort_keys=True)))
                    if k in ORDERED_BY_RANDOM_ID and isinstance(x, list) else sort_random_lists(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [sort_random_lists(e) for e in v]
    return v


def substitute(s):
    for rx, rep in SUBS:
        s = rx.sub(rep, s)
    return s


def normalise(s):
    if any(k in s for k in ORDERED_BY_RANDOM_ID):
        try:
            s = json.dumps(sort_random_lists(json.loads(s)), separators=(',', ':'))
        except ValueError:
            pass
    return substitute(s)


# Values the local cloud draws at random and that travel on between calls
# (EKS activation codes, into SSM parameters): every occurrence is replaced.
RANDOM_FIELDS = re.compile(r'"(?:activationCode|ActivationCode)":"([^"]+)"')


def load(path):
    out = collections.Counter()
    with open(path) as f:
        records = [json.loads(line) for line in f]
    secrets = set()
    for r in records:
        secrets.update(RANDOM_FIELDS.findall(r['response']))
    for r in records:
        for k in ('path', 'request', 'response'):
            for v in secrets:
                if v in r[k]:
                    r[k] = r[k].replace(v, '<random>')
        key = (r['service'], r['op'], str(r['status']), r['method'],
               normalise(r['path']), normalise(r['request']), normalise(r['response']))
        out[key] += 1
    return out


def main():
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    a, b = load(sys.argv[1]), load(sys.argv[2])
    sa, sb = set(a), set(b)
    print(f'records: {sum(a.values())} vs {sum(b.values())}; distinct normalised: {len(sa)} vs {len(sb)}; '
          f'only in first: {len(sa - sb)}; only in second: {len(sb - sa)}')
    for tag, only in (('-', sorted(sa - sb)), ('+', sorted(sb - sa))):
        for k in only:
            print(tag, '\t'.join(k[:5]), '\n   req:', k[5][:limit].replace('\n', ' '), '\n   resp:', k[6][:limit].replace('\n', ' '))
    per = collections.Counter()
    for k, n in a.items():
        per[k[:3]] += n
    per2 = collections.Counter()
    for k, n in b.items():
        per2[k[:3]] += n
    diff = [(k, per[k], per2[k]) for k in sorted(set(per) | set(per2)) if per[k] != per2[k]]
    print(f'service/op/status with different counts: {len(diff)}')
    for k, x, y in diff:
        print('  ', ' '.join(k), x, y)
    return 0 if sa == sb else 1


if __name__ == '__main__':
    sys.exit(main())
