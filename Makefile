# Kindred — the two commands. `make run` starts a dev server with its own Redis; `make test`
# runs the whole suite. Both install missing Debian packages and build first.
# Longer checks: `make fuzz-long` (every fuzz target 10 min), `make sanitize` (the unit, redis
# and integration suites under the asan and tsan presets).
# Thin on purpose: the build lives in CMakePresets.json, the scripts in scripts/.

PRESET ?= dev
BUILD_DIR := build/$(PRESET)
# CI turns warnings into errors.
CMAKE_FLAGS := $(if $(CI),-DKINDRED_WERROR=ON,)

.PHONY: run test build deps web configure fuzz fuzz-long sanitize format clean cluster cluster-down cluster-status

run: build
	scripts/run-dev.sh $(BUILD_DIR)

test: build
	scripts/run-tests.sh $(BUILD_DIR) $(PRESET)

deps:
	@scripts/install-deps.sh

# The local TLS cluster: Redis + 3 instances + nginx with a self-signed certificate, state in
# .cluster/ (docs/operations.md). Stays up in the background until `make cluster-down`.
cluster: build
	deploy/local/cluster.sh --build-dir $(BUILD_DIR) up

cluster-down:
	deploy/local/cluster.sh down

cluster-status:
	@deploy/local/cluster.sh status

configure: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ] || [ -n "$(CMAKE_FLAGS)" ]; then \
	  cmake --preset $(PRESET) $(CMAKE_FLAGS) >/dev/null; fi

build: configure web
	cmake --build --preset $(PRESET)

web: deps
	@scripts/web-deps.sh

fuzz:
	@scripts/install-deps.sh fuzz
	scripts/run-fuzz.sh

fuzz-long:
	@scripts/install-deps.sh fuzz
	scripts/run-fuzz.sh 600

sanitize: deps
	scripts/run-sanitizers.sh all

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
