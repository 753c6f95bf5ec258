# confine — see `make help`.
SHELL      := /bin/bash
GO         ?= go
BIN        := bin
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
PKG        := github.com/confinehq/confine
LDFLAGS    := -s -w -X $(PKG)/internal/version.Version=$(VERSION)
GOFLAGS_B  := -trimpath -buildmode=pie
BINARIES   := confined confine-runc confine-runc-full confine-hook confinectl confine-init
# Packages that need Debian packages on the host (see `make deps`).
DEB_DEPS   := containerd runc libseccomp-dev busybox-static pkg-config strace iproute2 systemd docker.io lintian rpm mmdebstrap
# runc's own integration suite (make test-runc-suite): bats and what its helpers call.
DEB_DEPS   += bats gawk jq bsdutils gcc criu xz-utils
# profiles pushed to and pulled from a real registry (profiles/ociprofile, e2e fleet test).
DEB_DEPS   += docker-registry
# The BPF programs of monitor/bpfevents: `make generate` / `make check-generated`.
DEB_DEPS   += clang llvm libbpf-dev
FUZZTIME   ?= 10s
# The e2e tests `make test` runs a second time with the proc connector forced
# (the first run forces bpf): daemon, hostile, PID reuse, learning, events.
E2E_SOURCE_TESTS := ^(TestEnforceKillsAndMonitorAlerts|TestBurstHidesNoViolation|TestContainersStartedWhileConfinedIsDown|TestHostileContainers|TestPIDReuse|TestLearnPromoteEnforce|TestConfinedKilledDuringLearning|TestProcessEventsAloneDetect)$$
export CGO_ENABLED := 1

.PHONY: generate check-generated help build build-race test test-unit test-e2e test-matrix test-runc-suite test-systemd lint fuzz deps check-deps demo bench clean deb rpm

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the binaries into bin/
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_B) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...
	@# confine-runc (every runc command) and confine-hook (twice per start)
	@# run on every container start: pure Go, no cgo, static, lean (bench/RESULTS.md).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/confine-hook ./cmd/confine-runc
	@# confine-init runs inside containers, whatever their libc: static, not PIE.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/confine-init ./cmd/confine-init

build-race: ## confined built with the race detector into bin/race/ (the e2e suite runs it when present)
	@mkdir -p $(BIN)/race
	$(GO) build -race -trimpath -ldflags '-X $(PKG)/internal/version.Version=$(VERSION)' -o $(BIN)/race/confined ./cmd/confined

deps: ## install (as root, Debian) everything the tests need
	@if [ "$$(id -u)" != 0 ]; then echo "make deps must run as root (sudo make deps)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_DEPS)

check-deps: ## run `make deps` when something the tests need is missing
	@missing=""; for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "missing Debian packages:$$missing — running make deps"; $(MAKE) deps; fi

generate: ## rebuild generated code (the BPF objects of monitor/bpfevents, with clang)
	$(GO) generate ./monitor/bpfevents/

check-generated: check-deps ## fail when a committed generated file differs from a rebuild
	@$(MAKE) --no-print-directory generate
	@if ! git diff --exit-code --stat -- monitor/bpfevents/events_bpfel.go monitor/bpfevents/events_bpfel.o || [ -n "$$(git status --porcelain -- monitor/bpfevents/events_bpfel.go monitor/bpfevents/events_bpfel.o)" ]; then \
	  echo "generated files are stale: run make generate and commit the result" >&2; exit 1; fi

test: check-deps check-generated build build-race ## everything, with -race: unit tests and the root end-to-end tests (against bin/race/confined)
	@if [ "$$(id -u)" != 0 ]; then echo "make test runs real containers and must run as root (sudo make test)" >&2; exit 1; fi
	CONFINE_BIN=$(CURDIR)/$(BIN) CONFINE_REQUIRE_ROOT=1 CONFINE_E2E_PROCESS_EVENTS=bpf $(GO) test -race -count=1 -p 1 -timeout 40m ./...
	@echo "== the process-event e2e tests again with process_events = proc_connector (the fallback source)"
	CONFINE_BIN=$(CURDIR)/$(BIN) CONFINE_REQUIRE_ROOT=1 CONFINE_E2E_PROCESS_EVENTS=proc_connector $(GO) test -count=1 -p 1 -timeout 15m -run '$(E2E_SOURCE_TESTS)' ./e2e/

test-systemd: check-deps build ## a Debian 12 booted with systemd: the .deb installed with apt, wired, upgraded, purged (root; also part of make test)
	@if [ "$$(id -u)" != 0 ]; then echo "make test-systemd boots systemd in namespaces and must run as root" >&2; exit 1; fi
	CONFINE_BIN=$(CURDIR)/$(BIN) CONFINE_REQUIRE_ROOT=1 $(GO) test -count=1 -timeout 20m -v -run TestSystemdHost ./e2e/systemdhost/

test-unit: ## unit tests only (no root, no containers)
	CONFINE_SKIP_ROOT=1 $(GO) test -count=1 -short ./...

lint: ## gofmt, go vet, staticcheck when installed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null; then staticcheck ./...; else echo "staticcheck not installed: skipped"; fi

fuzz: ## a short bounded run of every fuzz target
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

test-matrix: check-deps build ## the root suite against Debian's containerd/runc and current releases built with Go (root)
	@bash scripts/matrix.sh

test-runc-suite: check-deps build ## runc's own integration suite with runc, then through confine-runc (root; part of make test)
	@if [ "$$(id -u)" != 0 ]; then echo "the runc suite runs real containers and must run as root" >&2; exit 1; fi
	CONFINE_BIN=$(CURDIR)/$(BIN) CONFINE_REQUIRE_ROOT=1 $(GO) test -count=1 -v -timeout 60m -run '^TestRuncIntegrationSuite$$' ./e2e

demo: check-deps build ## learn, promote, enforce and kill on a private containerd (root)
	@bash scripts/demo.sh

bench: check-deps build ## side-by-side benchmarks; update bench/RESULTS.md by hand from the output
	@bash bench/run.sh

deb: build ## dist/confine_<version>_<arch>.deb
	@bash packaging/build.sh deb $(VERSION)

rpm: build ## dist/confine_<version>_<arch>.rpm
	@bash packaging/build.sh rpm $(VERSION)

clean: ## remove build outputs
	rm -rf $(BIN) dist
