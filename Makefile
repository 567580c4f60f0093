# regkit — make run starts the server on its embedded defaults; make test
# runs every test (installing redis-server through apt when it is missing).

GO            ?= go
BIN           := bin/regkit
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOBIN         := $(shell $(GO) env GOPATH)/bin
TEST_TIMEOUT  ?= 40m
RUN_ARGS      ?=

.PHONY: all build run test test-deps lint fmt vet staticcheck bench fuzz e2e conformance-peers clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/regkit

## run: build and start the server (file storage + embedded metadata under ./data)
run: build
	./$(BIN) serve $(RUN_ARGS)

## test: every unit, integration, contract and conformance test; the
## official OCI harness's package runs verbosely so its closing counts per
## configuration show
OFFICIAL_PKG  := ./conformance/official
test: test-deps
	$(GO) test -race -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/conformance/official$$')
	$(GO) test -race -timeout $(TEST_TIMEOUT) -v $(OFFICIAL_PKG)

## test-deps: install what the tests need when it is missing (redis-server,
## the S3/GCS/Azure emulators of server/storage's backend tests)
test-deps:
	GO=$(GO) bash .ci/storage-emulators.sh
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (tests start their own instances)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (e.g. sudo apt-get install -y redis-server)"; exit 1; \
	  fi; }

## lint: gofmt, go vet and staticcheck
lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	@test -x $(GOBIN)/staticcheck || GOFLAGS= $(GO) install $(STATICCHECK)
	$(GOBIN)/staticcheck ./...

## bench: the benchmarks of bench/ and server/storage against the in-process server
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./bench/ ./server/storage/

## fuzz: run each fuzzer for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$($(GO) test $$pkg -list '^Fuzz' | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME); \
	  done; done

## e2e: real clients (crane, skopeo, regctl, helm) against regkit serve; installs them first
e2e:
	GO=$(GO) bash .ci/e2e-tools.sh
	$(GO) test -tags e2e -run E2E -count=1 ./cmd/regkit/

## conformance-peers: run the OCI suite against CNCF Distribution v3 and Debian's docker-registry
conformance-peers:
	$(GO) run ./conformance/peers -out conformance/peers/results

clean:
	rm -rf bin
