# The default suite must stay well under 15 minutes on a 2-core machine.
GO ?= go
PKGS := ./...
# The official RocketMQ Go client (v2.1.2) has data races of its own, so the
# packages that drive it run without the race detector.
RACE_PKGS = $(shell $(GO) list ./... | grep -v -e /test/compat -e /client/internal/peerbench)

.PHONY: test vet build race

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o gorocket ./cmd/gorocket

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	$(GO) vet $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 12m $(RACE_PKGS)

# test: the README's test command (what .ci/run calls).
test: vet
	$(GO) test -count=1 -timeout 12m $(PKGS)
	$(MAKE) race
	$(MAKE) fuzz-smoke

# bench-compare: gorocket against NATS JetStream on this machine, the
# scenarios of issue 5 interleaved (bench/compare.sh; REPS=3 takes about
# 5-10 minutes). Prints a Markdown table; raw results in /tmp/gorocket-compare.
.PHONY: bench-compare
bench-compare:
	bench/compare.sh

# fuzz-smoke: every fuzz target for a few seconds beyond its seed corpus.
.PHONY: fuzz-smoke
fuzz-smoke:
	FUZZTIME=$${FUZZTIME:-3s} scripts/fuzz-smoke.sh
