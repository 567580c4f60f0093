# regkit — make run starts the server on its embedded defaults; make test
# runs every test (installing redis-server through apt when it is missing).

GO            ?= go
BIN           := bin/regkit
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
DISTRIBUTION  := v3.1.2
GOBIN         := $(shell $(GO) env GOPATH)/bin
TEST_TIMEOUT  ?= 40m
RUN_ARGS      ?=

.PHONY: all build run test soak test-deps lint fmt vet staticcheck bench fuzz e2e conformance-peers image clean

all: build

VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS       := -X main.version=$(VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/regkit

## image: the OCI image (Dockerfile: static binary on scratch, non-root, /data volume), offline
IMAGE         ?= localhost/regkit:$(VERSION)
image:
	mkdir -p bin/image/data
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/image/regkit ./cmd/regkit
	podman build --pull=never --network=none -f Dockerfile -t $(IMAGE) bin/image

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

## test-deps: install what the tests need when it is missing (redis-server;
## podman, which TestImage builds and pushes the image with; CNCF
## Distribution for the tests that compare against it; the S3/GCS/Azure
## emulators of the object-storage tests)
test-deps:
	GO=$(GO) bash .ci/storage-emulators.sh
	@for pkg in redis-server podman; do command -v $$pkg >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$pkg"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; \
	  else \
	    echo "$$pkg is missing: install it (e.g. sudo apt-get install -y $$pkg)"; exit 1; \
	  fi; }; done
	@{ test -x $(GOBIN)/registry && $(GOBIN)/registry --version 2>/dev/null | grep -q '$(DISTRIBUTION)'; } || { \
	  echo "installing CNCF Distribution $(DISTRIBUTION) (the peer some tests compare against)"; \
	  GOFLAGS= $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(DISTRIBUTION); }

## soak: three replicas behind a round-robin proxy on a Redis Cluster with
## replicas, under concurrent pushes and pulls, GC, replica kill -9s and one
## Redis master failover (a few minutes; not part of make test)
SOAK_DURATION ?= 90s
SOAK_REPORT   ?= bin/soak
SOAK_STORAGE  ?= s3
soak:
	@{ command -v redis-server && command -v $(GOBIN)/versitygw; } >/dev/null 2>&1 || $(MAKE) test-deps
	$(GO) test -tags soak -count=1 -timeout 15m -v ./soak -args -duration=$(SOAK_DURATION) -report=$(abspath $(SOAK_REPORT)) -storage=$(SOAK_STORAGE)

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
