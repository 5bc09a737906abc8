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

.PHONY: all build test unit unit-race integration bench-smoke chaos chaos-ci envtest prereqs generate verify-generate lint demo demo-up bench fuzz clean help

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

test: prereqs envtest verify-generate lint unit-race integration bench-smoke chaos-ci ## run every test: unit (-race), integration on a real API server, every benchmark once at tiny sizes, the bounded chaos run (-race), then each fuzz target briefly
	@bash hack/fuzz.sh $(FUZZTIME_SHORT) $(FUZZ_WORKERS) $(FUZZ_TARGETS)

# Packages outside tests/ need no API server; tests/ start one per package.
UNIT_PKGS        = $$(go list ./... | grep -v '/tests/')
INTEGRATION_PKGS = $$(go list ./tests/... | grep -v '/tests/chaos$$')

unit: ## the fast loop: every test that needs no API server or envtest binaries
	go test -timeout 10m $(UNIT_PKGS)

unit-race: ## unit tests (every package outside tests/) with the race detector, as make test runs them
	go test -race $(GO_TEST_FLAGS) $(UNIT_PKGS)

integration: envtest ## integration and end-to-end tests on a real API server (tests/, the chaos run aside)
	go test $(GO_TEST_FLAGS) $(INTEGRATION_PKGS)

# The chaos run starts vipgate as processes: the test builds them (with -race
# when the test runs with it) into .cache/chaos/bin; runs leave their logs,
# step files and reports in .cache/chaos/run-<seed>-<time>/.
CHAOS_TIMEOUT ?= 30m

chaos-ci: envtest ## the bounded chaos run of make test: two fixed seeds and one random seed, CHAOS_STEPS (200) steps each, with -race
	go test -race -count=1 -v -timeout $(CHAOS_TIMEOUT) ./tests/chaos/ 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'

CHAOS_STEPS ?= 1000

chaos: prereqs envtest ## a long chaos run: CHAOS_SEED (random unless set), CHAOS_STEPS (1000), CHAOS_CLUSTERS (2); prints the seed, per-invariant counts and "N passed, M failed"
	CHAOS_SEED=$${CHAOS_SEED:-random} CHAOS_STEPS=$(CHAOS_STEPS) go test -race -count=1 -v -timeout 240m -run '^TestChaosCI$$' ./tests/chaos/ 2>&1 | grep -v '^=== \(RUN\|PAUSE\|CONT\)'

# Native Go fuzz targets, as <package>:<target>. Plain `go test` replays their
# corpora (testdata/fuzz/<target>/) as regression tests; `make test` fuzzes each
# for FUZZTIME_SHORT, `make fuzz` for FUZZTIME. One worker each by default, to
# leave the machine to others; raise FUZZ_WORKERS on an idle one.
FUZZ_TARGETS   ?= ./webhooks:FuzzAdmission ./rules:FuzzCanonicalIP ./rules:FuzzValidateService \
                  ./rules:FuzzValidateVIPNetworks ./config:FuzzParse ./avisim:FuzzAPI
FUZZTIME       ?= 10m
FUZZTIME_SHORT ?= 5s
FUZZ_WORKERS   ?= 1

fuzz: ## run each fuzz target for FUZZTIME (10m); a failing input lands in <package>/testdata/fuzz/<target>/
	@bash hack/fuzz.sh $(FUZZTIME) $(FUZZ_WORKERS) $(FUZZ_TARGETS)

# Each benchmark of tests/bench runs in its own go test process (one fresh API
# server each: they must not see each other's objects). BenchmarkReconcileL4
# (in-process: time from create to VIP) is not in the default list; add it with
# BENCHMARKS=... Sizes: BENCH_BURSTS (1000,10000), BENCH_SERVICES (10000),
# BENCH_INGRESSES (5000), BENCH_SECRETS (20000), BENCH_CLIENTS (50).
# BenchmarkMirror10kServices (avi/apply: the applier mirror's live heap per
# object for 10,000 Services) always runs, after them, for the table;
# BENCHMARKS_ONLY=1 skips the micro-benchmarks of avisim and rules.
BENCHMARKS ?= Admission HostRuleAdmission Burst L7Ingresses Restart
BENCH_OUT  := .cache/bench.txt

bench: envtest build ## run the benchmarks and print a table of measures, goals and whether they were met (also in .cache/bench.txt)
	@mkdir -p .cache; echo "# loadavg start: $$(cat /proc/loadavg)" > $(BENCH_OUT)
	@# Compiled once, so every benchmark runs the same code.
	@go test -c -o .cache/bench.test ./tests/bench/
	@failed=""; for b in $(BENCHMARKS); do \
	  (cd tests/bench && VIPGATE_BIN=$(BIN)/vipgate ../../.cache/bench.test -test.timeout 120m -test.run '^$$' -test.bench "^Benchmark$$b$$" -test.benchmem -test.benchtime 1x) 2>&1 | tee -a $(BENCH_OUT) || failed="$$failed $$b"; \
	done; \
	go test -run '^$$' -bench '^BenchmarkMirror10kServices$$' -benchmem -benchtime 1x ./avi/apply/ 2>&1 | tee -a $(BENCH_OUT) || failed="$$failed Mirror10kServices"; \
	if [ -z "$(BENCHMARKS_ONLY)" ]; then \
	  go test -run '^$$' -bench . -benchmem ./avisim/ ./avisim/dataplane/ ./rules/ 2>&1 | tee -a $(BENCH_OUT) || failed="$$failed avisim/rules"; \
	fi; \
	echo "# loadavg end: $$(cat /proc/loadavg)" >> $(BENCH_OUT); \
	echo; go run ./tests/bench/benchtable < $(BENCH_OUT) | tee -a $(BENCH_OUT); \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed (output in $(BENCH_OUT))"; exit 1; fi

# make test runs every benchmark of make bench once at tiny sizes: a
# benchmark that no longer runs (a changed default, a credential the
# simulator now checks, a cache that holds less than it waits for) fails
# there, not at the next make bench, and the table must read their output.
BENCH_SMOKE_ENV = BENCH_BURSTS=20 BENCH_CLIENTS=5 BENCH_SERVICES=40 BENCH_INGRESSES=20 BENCH_SECRETS=40 \
                  BENCH_HOSTRULES=20 BENCH_SETTLE_S=1 BENCH_STEADY_S=1 BENCH_FULLSYNC_S=30
BENCH_SMOKE_OUT := .cache/bench-smoke.txt

bench-smoke: envtest build ## every benchmark of make bench once at tiny sizes (part of make test): they still run, and the table reads them
	@mkdir -p .cache; go test -c -o .cache/bench-smoke.test ./tests/bench/
	@: > $(BENCH_SMOKE_OUT); failed=""; for b in $(BENCHMARKS); do \
	  (cd tests/bench && $(BENCH_SMOKE_ENV) VIPGATE_BIN=$(BIN)/vipgate ../../.cache/bench-smoke.test -test.timeout 15m -test.run '^$$' -test.bench "^Benchmark$$b$$" -test.benchtime 1x) >> $(BENCH_SMOKE_OUT) 2>&1 || failed="$$failed $$b"; \
	done; \
	go run ./tests/bench/benchtable < $(BENCH_SMOKE_OUT) > /dev/null || failed="$$failed benchtable"; \
	if [ -n "$$failed" ]; then grep -v '^[EIW][0-9]' $(BENCH_SMOKE_OUT) | tail -40; echo "benchmarks that failed at smoke sizes:$$failed (output in $(BENCH_SMOKE_OUT))"; exit 1; fi; \
	echo "every benchmark ran at smoke sizes: $(BENCHMARKS)"

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
