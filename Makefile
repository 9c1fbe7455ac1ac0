# Rill: `make demo` runs the call-volume demo on the embedded broker (`make demo-funnel` the
# appointment funnel's), `make test` runs the tests.
# Both first install the system libraries they need when they are missing (Debian/Ubuntu).

export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
# g++ brings the C++ standard headers the RocksDB memory shim (Sources/CRocksDBMemory) compiles against.
APT_PACKAGES := librdkafka-dev librocksdb-dev pkg-config g++

.PHONY: deps test-deps build test demo demo-funnel bench bench-in-process describe clean

deps:
	@if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists rdkafka rocksdb \
		|| [ -z "$$(find /usr/include/c++ -maxdepth 2 -name memory -print -quit 2>/dev/null)" ]; then \
		echo "Installing $(APT_PACKAGES)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build

# The sample apps' web pages are tested in a real headless browser.
test-deps: deps
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "Installing chromium (the web pages' tests)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

demo: deps
	$(SWIFT) build -c release --product call-volume
	$$($(SWIFT) build -c release --show-bin-path)/call-volume $(ARGS)

demo-funnel: deps
	$(SWIFT) build -c release --product appointment-funnel
	$$($(SWIFT) build -c release --show-bin-path)/appointment-funnel $(ARGS)

describe: deps
	$(SWIFT) run rill describe

bench: bench-in-process
	$(SWIFT) build -c release --product RillBenchmarks
	$$($(SWIFT) build -c release --show-bin-path)/RillBenchmarks

# The in-process scenarios under ordo-one/benchmark: percentiles, allocations, peak memory.
bench-in-process: deps
	$(SWIFT) package benchmark --target InProcessBenchmarks --no-progress

clean:
	rm -rf .build
