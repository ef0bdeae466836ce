# Build, test and run the registrar.
#
# `sam build` (BuildMethod: makefile, build in source) calls the
# build-<LogicalId> targets below with ARTIFACTS_DIR set; `make build` calls
# the same targets, so a local build is byte-for-byte what SAM deploys.

# Must equal Globals.Function.Architectures in template.yaml (a test checks).
GOARCH := arm64
GOOS := linux

GO ?= go
LOCAL_BUILD_DIR := .aws-sam-local

# The flags provided.al2023 needs: a static binary named bootstrap, without
# the legacy RPC entry point.
GO_LAMBDA_FLAGS = -tags lambda.norpc -trimpath -ldflags "-s -w"
GO_LAMBDA_BUILD = CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build $(GO_LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap"

# LogicalId (template.yaml) -> functions/<dir> (docs/functions.md).
FUNCTIONS := TriggerFunction EnsureRolesFunction CheckClusterFunction RegisterClusterFunction \
	CheckActivationFunction CompleteRegistrationFunction CleanupFunction

.PHONY: all build test rie test-vet test-typecheck test-at-now cfn-lint run invoke tools deploy bench fmt vet readme diagram reliability check-artifacts-dir $(addprefix build-,$(FUNCTIONS))

all: build

check-artifacts-dir:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: run 'make build' or 'sam build'" >&2; exit 2; }

build-TriggerFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/trigger

build-EnsureRolesFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/ensure-roles

build-CheckClusterFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/check-cluster

build-RegisterClusterFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/register-cluster

build-CheckActivationFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/check-activation

build-CompleteRegistrationFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/complete-registration

build-CleanupFunction: check-artifacts-dir
	$(GO_LAMBDA_BUILD) ./functions/cleanup

# make bench's start-up references (bench/hello, bench/floor), built exactly as
# a function is; FLOOR_TAGS picks the SDK clients the floor builds
# (floor_eks,floor_ssm,...: the clients of the function it is compared with).
comma := ,
build-bench-hello build-bench-floor: check-artifacts-dir
	$(GO_LAMBDA_BUILD) -tags lambda.norpc$(if $(FLOOR_TAGS),$(comma)$(FLOOR_TAGS)) ./bench/$(subst build-bench-,,$@)

# Every bootstrap into $(LOCAL_BUILD_DIR)/<LogicalId>/bootstrap, without sam.
build:
	@set -e; for fn in $(FUNCTIONS); do \
		mkdir -p "$(LOCAL_BUILD_DIR)/$$fn"; \
		$(MAKE) --no-print-directory "build-$$fn" ARTIFACTS_DIR="$(CURDIR)/$(LOCAL_BUILD_DIR)/$$fn"; \
	done

# Every host build make test makes (the test binaries, the bootstraps the
# tests build through build-<LogicalId>, vet, aws-lambda-rie) uses the
# bootstraps' own flags through the environment, so each package, the AWS SDK
# above all, is compiled once for this host, not once per flag set
# (BENCHMARKS.md, "The local cloud and the suite"). -ldflags=-w leaves DWARF
# out of the test binaries (a third of each link; stack traces keep their file
# and line); the bootstraps' own -ldflags "-s -w" overrides it.
# go vet ./... runs every analyzer on every package, test files included (a
# superset of the ones go test runs, hence -vet=off), and compiles what the
# tests then only link; scripts/typecheck type-checks the production code and
# all it imports for the template's GOOS/GOARCH, so code that compiles only on
# this host fails here, not in `sam build`, without compiling the SDK for
# arm64 as well.
#
# Every test world has one clock, which starts at LOCALCLOUD_START
# (localcloud/clock): the real now for the whole suite, then ten years ahead
# and a year back for the packages whose worlds carry dates. A test that
# passes on one date and fails on another is a defect. The three dates run
# side by side: e2e, the longest package, waits more than it computes (about
# 5 s of CPU in 18 s: the SDK's retry back-offs under injected faults sleep
# in real time), so one after another they left a core idle for half a
# minute; together they compile the dated packages' test files three times
# (a few seconds of CPU) and end about 10 s sooner (42 s against 31 s, build
# cache warm, -count=1).
#
# What does not depend on each other runs side by side (a go build keeps two
# cores busy only part of the time), but two go commands never compile the
# same packages at once: the build cache does not share work in progress, so
# vet, the aws-lambda-rie install and the type-check started together on an
# empty cache each compiled the standard library (the install alone: 32 s of
# CPU on an empty cache, 8 s after vet). vet goes first, beside npm ci and cfn-lint (not Go); then the
# emulator and the type-check, which find the standard library compiled and
# build only their own packages; then the suite at its three dates.
DATED_PACKAGES := ./internal/lock/... ./internal/trigger/... ./internal/cleanup/... \
	./localcloud ./e2e/... ./cmd/localcloud/... ./internal/cli/...
HOST_FLAGS = CGO_ENABLED=0 GOFLAGS="$(strip $(shell $(GO) env GOFLAGS) -trimpath -tags=lambda.norpc -ldflags=-w)"
test:
	@$(MAKE) --no-print-directory -j3 test-vet node_modules/.bin/asl-validator cfn-lint
	@$(MAKE) --no-print-directory -j2 rie test-typecheck
	@$(MAKE) --no-print-directory -j3 test-at-now test-at-+10y test-at--1y

test-vet:
	$(HOST_FLAGS) $(GO) vet ./...

test-typecheck:
	$(HOST_FLAGS) $(GO) run ./scripts/typecheck -goos $(GOOS) -goarch $(GOARCH) ./functions/... ./internal/...

# Every package with the world starting now; the date-sensitive ones with
# the world starting at $*. GOTESTFLAGS adds go test flags (make bench: -json).
#
# Each date has its own -timeout, a second apart. go test finds a cached
# result through the list of files and environment variables the package's
# last run read, and keeps one such list per test binary and cacheable flags,
# not per value of LOCALCLOUD_START: with one flag set, each date's run
# replaced the list the others had left (a package whose tests read the
# environment a varying number of times, as the in-process functions do, never
# leaves the same list twice), so e2e, cmd/localcloud and internal/cli ran
# again at every date of every make test, changed or not.
GOTESTFLAGS ?=
date_timeout = $(if $(filter now,$1),600s,$(if $(filter +10y,$1),601s,$(if $(filter -1y,$1),602s,603s)))
test-at-now:
	LOCALCLOUD_START=now $(HOST_FLAGS) $(GO) test -vet=off -timeout=$(call date_timeout,now) $(GOTESTFLAGS) ./...

test-at-%:
	LOCALCLOUD_START=$* $(HOST_FLAGS) $(GO) test -vet=off -timeout=$(call date_timeout,$*) $(GOTESTFLAGS) $(DATED_PACKAGES)

# cfn-lint (with the SAM translator) on template.yaml: zero errors and zero
# warnings (.cfnlintrc says what is ignored, and why). Without cfn-lint,
# CI (CI non-empty) fails; a developer's make test warns and goes on.
# The same version ships the IAM reference (scripts/gen-iam-reference.py).
CFN_LINT_VERSION := 1.51.0
cfn-lint:
	@if command -v cfn-lint >/dev/null 2>&1; then \
		v=$$(cfn-lint --version 2>/dev/null | awk '{print $$2}'); \
		test "$$v" = "$(CFN_LINT_VERSION)" || echo "warning: cfn-lint $$v is installed; the project pins $(CFN_LINT_VERSION) (pip install cfn-lint==$(CFN_LINT_VERSION))" >&2; \
		echo "cfn-lint template.yaml" >&2; \
		cfn-lint template.yaml; \
	else \
		echo "cfn-lint is not installed: pip install cfn-lint==$(CFN_LINT_VERSION)" >&2; \
		if [ -n "$$CI" ]; then echo "CI is set: failing, template.yaml must be linted" >&2; exit 1; fi; \
		echo "warning: template.yaml was not linted" >&2; \
	fi

# The whole workflow on the embedded local cloud. SCENARIO is the simulated
# agent's behaviour: connects, never-connects, wrong-code, after-expiry,
# connects-then-lost. AGENT_DELAY is the virtual time from Activation Ready to
# the agent installing (a Go duration), EVENT the event put on the bus, and
# VERBOSE=1 also prints the functions' JSON logs. cmd/localcloud's
# TestRunEveryScenario runs every scenario and checks its timeline.
SCENARIO ?= connects
AGENT_DELAY ?= 7m
EVENT_FILE ?= events/register-cluster.json
VERBOSE ?=
run:
	$(GO) run ./cmd/localcloud run -scenario $(SCENARIO) -agent-delay $(AGENT_DELAY) -event $(EVENT_FILE)$(if $(VERBOSE), -v)

# make invoke FN=TriggerFunction EVENT=events/register-cluster.json
# (With Docker, `sam local invoke` against `go run ./cmd/localcloud serve -addr
# 0.0.0.0:4566` still works: events/env.json points it at host.docker.internal.)
#
# `sam local invoke` without Docker: FN's bootstrap runs behind the Lambda
# Runtime Interface Emulator (aws-lambda-rie, from `make tools`) against the
# embedded local cloud, with FN's environment from template.yaml and
# events/env.json (endpoints always point at that cloud). It prints the
# response as sam does; a function error fails the target (make reports it as status 2).
#
# Architecture: the template is arm64, and `make build` stays arm64 (exactly
# what `sam build` produces and Lambda runs). This machine kind is amd64
# without qemu, so an arm64 bootstrap cannot run here: invoke builds FN for
# the HOST's GOOS/GOARCH through the same build-$(FN) recipe (same flags:
# CGO_ENABLED=0, -tags lambda.norpc, -trimpath, -ldflags "-s -w"), into its
# own directory $(HOST_BUILD_DIR)/$(FN)/bootstrap, so it never mixes with the
# arm64 artifacts.
FN ?= TriggerFunction
EVENT ?= events/register-cluster.json
HOST_BUILD_DIR := $(LOCAL_BUILD_DIR)/host
HOST_GOOS = $(shell $(GO) env GOHOSTOS)
HOST_GOARCH = $(shell $(GO) env GOHOSTARCH)
invoke: tools
	@mkdir -p "$(HOST_BUILD_DIR)/$(FN)" bin
	@echo "make invoke: building $(FN) for this host ($(HOST_GOOS)/$(HOST_GOARCH)), not the template's $(GOOS)/$(GOARCH), into $(HOST_BUILD_DIR)/$(FN)/bootstrap" >&2
	@$(MAKE) --no-print-directory "build-$(FN)" GOOS=$(HOST_GOOS) GOARCH=$(HOST_GOARCH) ARTIFACTS_DIR="$(CURDIR)/$(HOST_BUILD_DIR)/$(FN)" >&2
	@$(GO) build -o bin/localcloud ./cmd/localcloud
	@bin/localcloud invoke -fn $(FN) -event $(EVENT) -env-vars events/env.json -bootstrap-dir "$(HOST_BUILD_DIR)/$(FN)" -rie "$(RIE)"

# Go tools the tests and `make invoke` run, pinned, in ./bin (gitignored).
# A stamp names the installed version: changing RIE_VERSION, or deleting the
# binary, reinstalls it (about 25 s with a cold module cache).
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(CURDIR)/bin/aws-lambda-rie
RIE_STAMP := $(CURDIR)/bin/.aws-lambda-rie-$(RIE_VERSION)
tools: node_modules/.bin/asl-validator rie

rie:
	@test -x "$(RIE)" -a -f "$(RIE_STAMP)" || { \
		echo "installing aws-lambda-rie@$(RIE_VERSION) into bin/" >&2; \
		$(HOST_FLAGS) GOBIN="$(CURDIR)/bin" $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION) && \
		rm -f "$(CURDIR)"/bin/.aws-lambda-rie-* && touch "$(RIE_STAMP)"; }

# Pinned Node tools (package-lock.json); reinstalled when the lockfile changes.
NPM ?= npm
node_modules/.bin/asl-validator: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@

deploy:
	sam build && sam deploy

# BENCHMARKS.md: detection and cost on the virtual clock, the naive baseline,
# start-up, size, the local cloud and the suite (bench/main.go says what each
# measures). A few minutes; BENCH_SUITE=0 skips timing make test from a fresh
# clone, the longest part. Benchmarks never fail make test (it does not run them).
BENCH_SUITE ?= 1
bench: tools
	$(GO) run ./bench -o BENCHMARKS.md$(if $(filter 1,$(BENCH_SUITE)), -suite)

# Regenerate README.md's least-privilege table from the full e2e scenario set
# (-count=1: a cached result would skip the write).
readme:
	$(GO) test -count=1 ./e2e/ -update-readme

# The reliability suites in full (e2e: faultsweep_test.go, badinput_test.go,
# manyclusters_test.go, crashsweep_test.go): every scenario of the fault sweep
# with every seed, a crash after (and before) each write of every base
# scenario (make test runs a few cells). Seeded, so a run repeats; it rewrites
# README.md's Reliability table when every test passed.
reliability:
	RELIABILITY=full $(GO) test -count=1 -v -run '^(TestFaultSweep|TestRetryBudgetRunsOutMidRegistration|TestBadInputAtVolume|TestHundredClustersRegisterConcurrently|TestTwelveClustersAgainstAQuotaOfTen|TestCrashAfterEachWrite)$$' ./e2e/ -update-reliability

# Rewrite the state machine diagrams README.md and docs/statemachine.md embed
# from statemachine/*.asl.json (localcloud/asl.Mermaid); make test fails when
# they no longer match.
diagram:
	$(GO) test -count=1 ./internal/templatecheck/ -run '^TestDiagramsMatchTheDefinitions$$' -update-diagrams

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

vet:
	$(GO) vet ./...
