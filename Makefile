# art — see README.md. Every target installs what it needs.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO ?= go
BIN := bin/art
FUZZTIME ?= 30s

.PHONY: all build deps test demo fuzz bench bench-go bench-memory bench-peers lint depcheck clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/art

## deps: what the tests need beyond Go modules: Graphviz's dot, which the
## lineage tests run on `art lineage --format dot` (from Debian; sudo unless root)
deps:
	@command -v dot >/dev/null || { \
	  sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  ($$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq graphviz); }

## test: formatting, vet, package boundaries, then every test of every package (fuzz
## seed corpora included); the library packages under the race detector where cgo is
## available (all but the chunker, whose tests are slow under it, and the binaries)
RACE := $(shell command -v gcc >/dev/null && [ "$$($(GO) env CGO_ENABLED)" = 1 ] && echo -race)
test: deps minio lint depcheck vuln
	ART_REQUIRE_MINIO=1 $(GO) test -count=1 $(RACE) -timeout 20m $$($(GO) list ./... | grep -v -e '/objects/chunker$$' -e '/cmd/' -e '/tools/')
	ART_REQUIRE_MINIO=1 $(GO) test -count=1 -timeout 20m ./objects/chunker/ ./cmd/... ./tools/...

## minio: the S3-compatible server the s3remote tests start on 127.0.0.1
## (go install through the module proxy, ~3 minutes the first time)
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
.PHONY: minio
minio:
	@command -v minio >/dev/null || $(GO) install github.com/minio/minio@$(MINIO_VERSION)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

depcheck:
	@scripts/depcheck.sh

## vuln: govulncheck (pinned: v1.9.0 needs a golang.org/x/telemetry the module
## proxy refuses) on every package; any finding fails. Its database (GOVULNDB)
## must be reachable: when it is not, the step says loudly that NOTHING WAS
## CHECKED and passes, unless VULN_REQUIRE=1 makes that a failure too
GOVULNCHECK_VERSION := v1.8.0
GOVULNDB ?= https://vuln.go.dev
.PHONY: vuln
vuln:
	@out=$$($(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db $(GOVULNDB) ./... 2>&1); rc=$$?; \
	  printf '%s\n' "$$out"; \
	  if [ $$rc != 0 ] && grep -q 'fetching vulnerabilities' <<<"$$out"; then \
	    echo "vuln: *** NOTHING WAS CHECKED: the vulnerability database $(GOVULNDB) cannot be reached from this machine ***"; \
	    echo "vuln: set GOVULNDB to a reachable copy (https://... or file:///...), or VULN_REQUIRE=1 to fail here"; \
	    [ "$(VULN_REQUIRE)" != 1 ]; exit $$?; \
	  fi; \
	  exit $$rc

## demo: the main job end to end in a temp dir on the local (embedded) store
demo: build
	@ART=$(CURDIR)/$(BIN) scripts/demo.sh

## fuzz: run every fuzz target for FUZZTIME each (found inputs land in testdata/fuzz/)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## bench: every benchmark in one run, each on file systems it makes itself (a
## sparse image formatted as ext4, and as XFS, loop-mounted: needs root), art
## side by side with its peers (restic, kopia, rclone and git-lfs built from the
## Go module proxy into ~/.cache/art-bench; git, borg from Debian). A full run
## (BENCH_SCALE=1) rewrites docs/bench-*.md and the README's tables; any other
## scale writes bin/bench/ only. BENCH_SCALE=0.1 is the quick look.
BENCH_RUNS ?= 3
BENCH_SCALE ?= 1
BENCH_FS ?= ext4,xfs
BENCH_SCALE_FS ?= ext4
BENCH_ARGS = --art $(BIN) --peakrss bin/peakrss --scale $(BENCH_SCALE)
.PHONY: peakrss bench-remote bench-scale
# build first: bench-go writes docs/bench-go.md, which would mark a binary
# built after it as built from a modified tree
bench: build bench-go bench-memory bench-peers bench-remote

peakrss:
	$(GO) build -o bin/peakrss ./tools/peakrss

bench-go:
	python3 scripts/bench_go.py --scale $(BENCH_SCALE) ./objects/ ./objects/chunker/ ./refs/ ./lineage/ ./repo/

bench-memory: build peakrss
	python3 scripts/bench_memory.py $(BENCH_ARGS) --fs $(BENCH_FS)

bench-peers: build peakrss
	python3 scripts/bench_peers.py $(BENCH_ARGS) --runs $(BENCH_RUNS) --fs $(BENCH_FS)

## bench-remote: push and pull through a local MinIO (on the trial's own file
## system, a free 127.0.0.1 port) of 20,000 x 4 KiB files and of one 1 GiB file,
## art side by side with rclone copy, restic and kopia
bench-remote: build peakrss minio
	python3 scripts/bench_remote.py $(BENCH_ARGS) --runs $(BENCH_RUNS) --fs $(BENCH_FS)

## bench-scale: 1,000,000 x 1 KiB files in 1,000 directories plus one directory
## of 100,000: art beside git, restic and kopia (one run; not part of `make bench`)
bench-scale: build peakrss minio
	python3 scripts/bench_scale.py $(BENCH_ARGS) --runs 1 --fs $(BENCH_SCALE_FS)

clean:
	rm -rf bin
