# vipgate — build, test, demo. Every tool is built from Go modules at a pinned
# version and cached; nothing is downloaded from anywhere else. Long builds show
# progress (hack/progress.sh) and keep the Go toolchain's output in a log under
# .cache/ (named on screen); a failure prints the log's last lines.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c

K8S_VERSION        ?= 1.37.1
TOOLS              := $(CURDIR)/.cache/tools
CONTROLLER_GEN_PKG := sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
CONTROLLER_GEN     ?= $(TOOLS)/controller-gen-v0.23.0/controller-gen
ENVTEST_DIR        := $(CURDIR)/.cache/envtest/k8s-$(K8S_VERSION)
GO_TEST_FLAGS      ?= -timeout 40m
BIN                := $(CURDIR)/bin
BUILD_LOG          := .cache/build.log
PROGRESS           := hack/progress.sh --log $(BUILD_LOG)

export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)

.PHONY: all build test unit envtest prereqs generate verify-generate lint demo demo-up bench clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/vipgate and bin/avisim (static)
	@CGO_ENABLED=0 $(PROGRESS) --label bin/vipgate -- go build -trimpath -o $(BIN)/vipgate ./cmd/vipgate
	@CGO_ENABLED=0 $(PROGRESS) --label bin/avisim -- go build -trimpath -o $(BIN)/avisim ./cmd/avisim

prereqs: ## check Go, tools and free disk before anything heavy (SKIP_PREREQS=1 skips)
	@K8S_VERSION=$(K8S_VERSION) bash hack/prereqs.sh

envtest: ## build kube-apiserver, etcd and kubectl from Go modules (cached) and print their folder
	@K8S_VERSION=$(K8S_VERSION) ENVTEST_DIR=$(ENVTEST_DIR) bash hack/envtest/build.sh

$(TOOLS)/controller-gen-v0.23.0/controller-gen:
	@bash hack/install-tool.sh $(CONTROLLER_GEN_PKG) $@

generate: $(TOOLS)/controller-gen-v0.23.0/controller-gen ## regenerate deepcopy code, CRD YAML (controller-gen), the chart's CRDs and the kustomize base
	$(CONTROLLER_GEN) object paths=./crds/... crd:crdVersions=v1 output:crd:dir=./crds/yaml
	$(MAKE) --no-print-directory -C manifests

verify-generate: ## fail when generated code, CRD YAML or rendered manifests are out of date
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	cp -r crds $$tmp/crds.before; cp -r manifests $$tmp/manifests.before; \
	$(MAKE) --no-print-directory generate >/dev/null; \
	if ! diff -r $$tmp/crds.before crds >/dev/null || ! diff -r $$tmp/manifests.before manifests >/dev/null; then \
	  diff -r $$tmp/crds.before crds; diff -r $$tmp/manifests.before manifests; \
	  echo "generated files were out of date: run 'make generate' and commit"; exit 1; fi; \
	echo "generated files are current"

lint: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@PROGRESS_TAIL=200 $(PROGRESS) --label "go vet ./..." -- go vet ./...

# Packages that need no API server: everything outside tests/.
UNIT_PKGS = $(shell go list ./... | grep -v /tests/)

unit: ## the fast loop: every test that needs no API server or envtest binaries
	go test -timeout 10m $(UNIT_PKGS)

test: prereqs envtest verify-generate lint ## run every test on a real API server (builds envtest binaries on first run)
	go test $(GO_TEST_FLAGS) ./...

BENCHMARKS ?= Admission HostRuleAdmission ReconcileL4 L7Ingresses

bench: envtest ## run the benchmarks and print a table (results also in .cache/bench.txt)
	@mkdir -p .cache; : > .cache/bench.txt
	@# One process (so one fresh API server) per benchmark: they must not see each other's objects.
	@for b in $(BENCHMARKS); do \
	  go test -timeout 60m -run '^$$' -bench "^Benchmark$$b$$" -benchmem -benchtime 1x ./tests/bench/ | tee -a .cache/bench.txt; \
	done
	go test -run '^$$' -bench . -benchmem ./avisim/ ./avisim/dataplane/ ./rules/ | tee -a .cache/bench.txt

demo: prereqs envtest build demo-bin ## start API server + avisim + vipgate, walk through admission and VIP allocation, exit 0 on success
	$(BIN)/demo --bin $(BIN)

demo-up: prereqs envtest build demo-bin ## start the demo environment and keep it running until Ctrl-C
	$(BIN)/demo --bin $(BIN) --keep-running

# The demo is built like the rest (progress, output in the log) rather than
# `go run`, whose first compile would print its downloads on screen.
.PHONY: demo-bin
demo-bin:
	@$(PROGRESS) --label bin/demo -- go build -o $(BIN)/demo ./cmd/demo

clean: ## remove build outputs (keeps the envtest cache)
	rm -rf $(BIN)
