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
GO_LAMBDA_BUILD = CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" -o "$(ARTIFACTS_DIR)/bootstrap"

# LogicalId (template.yaml) -> functions/<dir> (docs/functions.md).
FUNCTIONS := TriggerFunction EnsureRolesFunction CheckClusterFunction RegisterClusterFunction \
	CheckActivationFunction CompleteRegistrationFunction CleanupFunction

.PHONY: all build test run invoke deploy bench fmt vet check-artifacts-dir $(addprefix build-,$(FUNCTIONS))

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

# Every bootstrap into $(LOCAL_BUILD_DIR)/<LogicalId>/bootstrap, without sam.
build:
	@set -e; for fn in $(FUNCTIONS); do \
		mkdir -p "$(LOCAL_BUILD_DIR)/$$fn"; \
		$(MAKE) --no-print-directory "build-$$fn" ARTIFACTS_DIR="$(CURDIR)/$(LOCAL_BUILD_DIR)/$$fn"; \
	done

test:
	$(GO) test ./...

# The whole workflow on the embedded local cloud. SCENARIO is the simulated
# agent's behaviour: connects, never-connects, wrong-code, after-expiry,
# connects-then-lost.
SCENARIO ?= connects
run:
	$(GO) run ./cmd/localcloud run -scenario $(SCENARIO)

# make invoke FN=TriggerFunction EVENT=events/register-cluster.json
# (sam local invoke against `go run ./cmd/localcloud serve -addr 0.0.0.0:4566`).
FN ?= TriggerFunction
EVENT ?= events/register-cluster.json
invoke: build
	sam local invoke $(FN) --event $(EVENT) --env-vars events/env.json

deploy:
	sam build && sam deploy

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

vet:
	$(GO) vet ./...
