# SPDX-License-Identifier: MIT
# Thin wrapper over CMake/CTest. Every target installs what is missing first.
BUILD      ?= build
BUILD_TSAN ?= build-tsan
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
GENERATOR  ?= Ninja
CMAKE_ARGS ?=
STRESS_SECONDS     ?= 60
FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 30
BENCH_ROUNDS       ?= 3

.PHONY: all setup configure build test test-big tsan asan bench run run-sim sim-scenarios clean stress fuzz fuzz-smoke fuzz-build fuzz-coverage package package-check docs

all: build

setup:
	@bash scripts/setup

configure: setup
	@cmake -S . -B $(BUILD) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD)

# Every test: unit, concurrency, freestanding and layering checks.
test: build
	@ctest --test-dir $(BUILD) --output-on-failure --timeout 600
	@$(MAKE) --no-print-directory fuzz-smoke

# The reference kernel on 1024 CPUs (q35, x2APIC): QEMU alone needs about
# 100 s to create them, so this boot is not part of `make test`.
test-big: build
	@ctest --test-dir $(BUILD) -C big -L qemu-big --output-on-failure

# The concurrency stress program for STRESS_SECONDS (CTest runs it for 10 s).
stress: build
	@$(BUILD)/tests/stress/irqroute_stress --seconds $(STRESS_SECONDS)

# The libFuzzer targets (clang, ASan+UBSan), in their own build directory.
fuzz-build: setup
	@cmake -S . -B $(BUILD_FUZZ) -G $(GENERATOR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRQROUTE_FUZZ=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) --target fuzz_madt fuzz_dmar fuzz_io fuzz_vic

# Each fuzzer briefly (part of make test), or for FUZZ_SECONDS each.
fuzz-smoke: fuzz-build
	@bash scripts/fuzz-run $(BUILD_FUZZ) $(FUZZ_SMOKE_SECONDS)

fuzz: fuzz-build
	@bash scripts/fuzz-run $(BUILD_FUZZ) $(FUZZ_SECONDS)

# Which lines of the library the fuzz corpora reach (llvm-cov report).
fuzz-coverage: setup
	@bash scripts/fuzz-coverage $(BUILD)-fuzzcov $(BUILD_FUZZ)

# The concurrency tests under ThreadSanitizer (must report nothing), with
# the debug checks on.
tsan: setup
	@cmake -S . -B $(BUILD_TSAN) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRQROUTE_SANITIZE=thread -DIRQROUTE_DEBUG_CHECKS=ON >/dev/null
	@cmake --build $(BUILD_TSAN)
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --test-dir $(BUILD_TSAN) -L concurrency --output-on-failure --timeout 900

# Every test under AddressSanitizer + UndefinedBehaviorSanitizer (leaks
# too), with the debug checks on.
asan: setup
	@cmake -S . -B $(BUILD_ASAN) -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIRQROUTE_SANITIZE=address -DIRQROUTE_DEBUG_CHECKS=ON >/dev/null
	@cmake --build $(BUILD_ASAN)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --test-dir $(BUILD_ASAN) -L unit --output-on-failure --timeout 600

bench: setup
	@cmake -S . -B $(BUILD)-release -G $(GENERATOR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD)-release
	@python3 bench/run.py $(BUILD)-release/bench --json $(BUILD)/bench/results.json --rounds $(BENCH_ROUNDS)

# The Debian package of the library alone (Release; no tests, kernel, bench
# or tools, so neither cmocka nor QEMU is needed), in $(BUILD)-package/.
package: setup
	@cmake -S . -B $(BUILD)-package -G $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
		-DIRQROUTE_BUILD_TESTS=OFF -DIRQROUTE_BUILD_KERNEL=OFF -DIRQROUTE_BUILD_BENCH=OFF -DIRQROUTE_BUILD_TOOLS=OFF >/dev/null
	@cmake --build $(BUILD)-package
	@cd $(BUILD)-package && cpack -G DEB

# The package as a user gets it: built without cmocka, unpacked into a
# scratch prefix ($(BUILD)-package-check/), and every example built against
# it with find_package and with pkg-config, and run (scripts/check-package).
package-check: setup
	@BUILD=$(BUILD) GENERATOR=$(GENERATOR) bash scripts/check-package

# The API reference from the public headers' comments, README.md and docs/
# (Doxygen; any warning fails it): $(BUILD)/docs/html/index.html.
docs: configure
	@cmake --build $(BUILD) --target docs

# The demo: the reference kernel on QEMU (4 CPUs) with a live table of
# interrupt counts per CPU and routing commands (type 'help'; quit or Ctrl-C).
run: build
	@bash scripts/run-demo $(BUILD)/kernel/kernel.elf

# The same idea on the sim platform (host threads, no QEMU).
run-sim: build
	@$(BUILD)/tools/irqsim --interactive

# Every scenario in scenarios/ under every strategy, with the results (CSV,
# PNG plot, Perfetto trace) in $(BUILD)/irqsim/ (docs/irqsim.md).
sim-scenarios: build
	@for f in scenarios/*.yaml; do $(BUILD)/tools/irqsim --scenario $$f --check --out $(BUILD)/irqsim || exit 1; done

clean:
	rm -rf $(BUILD) $(BUILD_TSAN) $(BUILD_ASAN) $(BUILD)-release $(BUILD_FUZZ) $(BUILD)-fuzzcov $(BUILD)-package $(BUILD)-package-check
