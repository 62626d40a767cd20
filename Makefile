# prawn — see README.md. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BIN       := bin/prawn
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/prawnhq/prawn/internal/buildinfo.Version=$(VERSION)

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z/_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

## ---- quick start ----------------------------------------------------------

.PHONY: run
run: frontend build ## Build everything and start `prawn serve` (embedded Postgres unless DATABASE_URL is set).
	./$(BIN) serve

.PHONY: test
test: frontend ## go vet, every Go test with -race (real Postgres), frontend and infra tests.
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(MAKE) test/frontend
	$(MAKE) test/infra

## ---- build ----------------------------------------------------------------

.PHONY: build
build: ## Build bin/prawn (embeds the built frontend when there is one).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/prawn

.PHONY: lambda
lambda: ## Build dist/lambda/bootstrap (linux/arm64) and its zip for the Lambda functions.
	scripts/lambda.sh

.PHONY: synth
synth: lambda frontend ## Synthesize the AWS stacks offline into infra/cdk.out (no AWS account needed).
	infra/synth.sh

.PHONY: frontend
frontend: ## Install the frontend's packages and build it into frontend/dist.
	@if [ -f frontend/package.json ]; then scripts/frontend.sh build; else echo "frontend: placeholder page only"; fi

.PHONY: test/frontend
test/frontend: ## Frontend unit and browser tests.
	@if [ -f frontend/package.json ]; then scripts/frontend.sh test; else echo "frontend: no tests yet"; fi

.PHONY: test/infra
test/infra: ## CDK assertions and cdk-nag (infra/ is its own Go module).
	@if [ -f infra/go.mod ]; then cd infra && $(GO) test -count=1 ./...; else echo "infra: not yet"; fi

## ---- code generation ------------------------------------------------------

.PHONY: generate
generate: generate/api generate/db generate/frontend ## Regenerate gen/ (and the frontend client) from the contract and the SQL.

.PHONY: generate/api
generate/api:
	rm -f gen/api/*.gen.go
	$(GO) tool oapi-codegen -config gen/api/oapi-codegen.yaml api/openapi.yaml

.PHONY: generate/db
generate/db:
	rm -f gen/db/*.go
	$(GO) tool sqlc generate

.PHONY: generate/frontend
generate/frontend:
	@if [ -f frontend/package.json ]; then scripts/frontend.sh generate; fi

.PHONY: verify
verify: generate ## Fail when `make generate` changes the tree (generated code edited by hand or stale).
	@if [ -n "$$(git status --porcelain -- gen frontend/src/api)" ]; then \
	  git status --porcelain -- gen frontend/src/api; git --no-pager diff --stat; \
	  echo "verify: generated code is stale or was edited by hand; run make generate and commit"; exit 1; fi
	@echo "verify: generated code is up to date"

# Benchmark flags: make bench BENCH_FLAGS='-rates 1000,2000 -targets batch,home' (go run ./scripts/bench -help).
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Ingest benchmark (~22 min): open-loop vegeta ladder, prawn vs naive path, hello-world, pgbench, pixel, badge, then the queue consumer; writes docs/benchmarks.md.
	$(GO) run ./scripts/bench $(BENCH_FLAGS)

.PHONY: bench/consumer
bench/consumer: ## Queue ingest's consumer alone (~2 min): SQS batches of 100, 1 000, 10 000 into Postgres, api CPU per view; writes docs/benchmarks.md.
	$(GO) run ./scripts/bench -consumer $(BENCH_FLAGS)

.PHONY: bench/quick
bench/quick: ## The ingest benchmark's tiny ladder (~1.5 min): checks that it works (development, CI); writes nothing.
	$(GO) run ./scripts/bench -quick $(BENCH_FLAGS)

.PHONY: bench/reads
bench/reads: ## Read benchmark (issue 17; ~30-45 min at the default 10 M views): every read of the page against prawn serve in five cases; writes docs/benchmarks.md.
	$(GO) run ./scripts/benchreads $(BENCH_FLAGS)

.PHONY: bench/rollup
bench/rollup: ## Rollup benchmark (~4 min): fold cost vs history size, reads from rollups vs raw rows; writes docs/benchmarks.md.
	$(GO) run ./scripts/benchrollup $(BENCH_FLAGS)
