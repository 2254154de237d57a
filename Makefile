# muflow: the two entry points are `make run` (the main job) and `make test` (every test).
# Each installs what it needs: Debian packages, Python environments, the Swift library.

PYTHON ?= python3
VENV := .venv
TEST_VENV := .venv-test
LIB := build/libmuflow.so
RELEASE_SCRATCH := .build-release
C_FLAGS := -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude
CXX_FLAGS := -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude
APT_PACKAGES := libffi-dev python3-dev valgrind binutils
RUNTIME_PIP := pydantic numpy
TEST_PIP := pytest hypothesis pydantic numpy scipy xarray openpyxl pypdf muflow==0.4.0
# The suppressions cover only one-time allocations of the Swift runtime (metadata caches,
# lazy globals), which it keeps until exit by design; a real leak still fails.
VALGRIND := valgrind --quiet --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=1 --suppressions=$(CURDIR)/tools/valgrind.supp

.PHONY: run test lib system-packages swift-test scheduler-repeat tsan asan c-test c-examples python-test bench clean

# The packaging build: Swift runtime linked statically, only mf_* exported, and every
# symbol resolved at link time (-z defs).
lib: $(LIB)
$(LIB): Package.swift include/muflow.h tools/exports.map $(shell find Sources -name '*.swift' -o -name '*.c' -o -name '*.h')
	swift build -c release --product muflow --scratch-path $(RELEASE_SCRATCH) \
	    -Xswiftc -static-stdlib -Xswiftc -no-toolchain-stdlib-rpath \
	    -Xlinker --version-script=$(CURDIR)/tools/exports.map -Xlinker -z -Xlinker defs
	mkdir -p build
	cp $(RELEASE_SCRATCH)/release/libmuflow.so $(LIB).tmp
	strip --strip-debug $(LIB).tmp
	mv -f $(LIB).tmp $(LIB)

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

ML_KWARGS := {"datasets": ["dataset_a", "dataset_b", "dataset_c"]}

run: system-packages $(VENV)/.installed
	$(VENV)/bin/muflow run muflow_native.examples.ml_task:ml_pipeline --subject experiment:1 \
	    --kwargs '$(ML_KWARGS)' --output $(CURDIR)/out/ml --handle $(CURDIR)/out/ml-handle.json

swift-test:
	swift test

c-test: system-packages $(LIB)
	tools/check_exports.sh include/muflow.h $(LIB)
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

# The scheduler and run tests under ThreadSanitizer.
tsan:
	MUFLOW_FANIN_NODES=10000 swift test --scratch-path .build-tsan --sanitize=thread \
	    --filter 'SchedulerTests|PlanRunTests|RunABITests'

# Run from build/ so that the installed package, not the source tree, is imported.
python-test: system-packages $(TEST_VENV)/.installed
	cd build && ../$(TEST_VENV)/bin/python -m pytest -q -p no:cacheprovider ../bindings/python/tests

test: swift-test scheduler-repeat tsan asan c-test c-examples python-test

bench: $(TEST_VENV)/.installed
	for b in bench/*/run.py; do OPENBLAS_NUM_THREADS=1 $(TEST_VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf build out .build .build-release .build-tsan .build-asan $(VENV) $(TEST_VENV)
