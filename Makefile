# KLAIS: the two commands of the quick start are `make demo` and `make test`; both set up first.
SHELL := /bin/bash
CONFIG ?= Release
DOTNET ?= dotnet
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1

.PHONY: all setup build publish test demo bench bench-xdp bench-quick clean

all: build

setup:
	@./scripts/setup.sh

build: setup
	$(DOTNET) build Klais.sln -c $(CONFIG) -nologo -v:q
	$(MAKE) -C bench/sink

# Self-contained folders with the binaries (klais-edge, klais-loadgen, klais-devcluster, klais-xdp) for the demo and benches.
publish: build
	@./scripts/publish.sh $(CONFIG)

test: build
	@./scripts/test.sh $(CONFIG)

demo: publish
	@./scripts/demo.sh

bench: publish
	@./scripts/bench.sh

# The XDP filter against a 90%-garbage flood over a veth (needs root); also run at the end of `make bench`.
bench-xdp: publish
	$(MAKE) -C bench/sink
	@./scripts/bench-xdp.sh

clean:
	$(DOTNET) clean Klais.sln -c $(CONFIG) -nologo -v:q || true
	rm -rf out artifacts
	$(MAKE) -C bench/sink clean
	$(MAKE) -C bpf clean
