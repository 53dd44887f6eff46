# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
JOBS ?= 2
DATA ?= ./data
LISTEN ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 30
# what clang-format owns: `make format` rewrites these, `make format-check` fails on a difference
FORMAT_FILES = $(wildcard src/*.c src/*/*.c src/*/*.h src/*/*/*.c src/*/*/*.h \
                          tests/unit/*.c tests/fuzz/*.c bench/*.c)

.PHONY: run test deps build build-asan build-tsan build-fuzz unit e2e e2e-asan e2e-pg cluster-test fuzz bench lint \
	format format-check coverage docs sdk clean

run: deps build
	@scripts/run --listen $(LISTEN) --data $(DATA)

test: deps build build-asan build-tsan build-fuzz
	@scripts/test-all

deps:
	@scripts/deps

# compile_commands.json: the flags clang-tidy (make lint) and editors use
build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_TESTS=ON \
	  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
	@cmake --build build -j$(JOBS)

build-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

# the server, and the unit tests whose code switches stacks or threads (scripts/test-all)
TSAN_UNIT_TESTS = test_fiber
build-tsan:
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCAIRN_TSAN=ON -DCAIRN_TESTS=ON >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target cairn $(TSAN_UNIT_TESTS)

build-fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

unit: build
	@cd build && ctest --output-on-failure

e2e: build
	@CAIRN_BIN=build/cairn node --test tests/e2e/

# the same suite on PostgreSQL + NATS: one throwaway server of each for the run
# (scripts/test-e2e-pg; NATS=0: PostgreSQL alone);
# FILES= runs some files only, e.g. make e2e-pg FILES=tests/e2e/notes.test.mjs
e2e-pg: build
	@scripts/test-e2e-pg $(FILES)

# three nodes on PostgreSQL behind HAProxy (scripts/cluster), killed, restarted and raced
# (tests/cluster); part of `make test`. FILES= runs some files only
cluster-test: build
	@CAIRN_BIN=build/cairn node --test --test-concurrency=1 $(or $(FILES),tests/cluster/)

fuzz: build-fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

bench: build
	@bash bench/run.sh

# cppcheck and clang-tidy (.clang-tidy); needs the build's compile_commands.json
lint: build
	@JOBS=$(JOBS) scripts/lint

format:
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

# line coverage of the unit tests, per file of src/ and in total (build-coverage, gcovr);
# atomic counters, as threaded tests otherwise race on them and leave negative counts
coverage:
	@cmake -S . -B build-coverage -DCMAKE_BUILD_TYPE=Debug -DCAIRN_TESTS=ON \
	  -DCMAKE_C_FLAGS="--coverage -fprofile-update=atomic" \
	  -DCMAKE_EXE_LINKER_FLAGS=--coverage >/dev/null
	@cmake --build build-coverage -j$(JOBS)
	@find build-coverage -name '*.gcda' -delete
	@cd build-coverage && ctest --output-on-failure -j$(JOBS)
	@gcovr --root . --filter 'src/' --print-summary -j $(JOBS) build-coverage

# The key tables of docs/configuration.md, from the binary's tables (a test checks them),
# and the SDK's types generated from the OpenAPI document (a test checks them too).
docs: build
	@scripts/config-docs
	@scripts/sdk-types

# sdk/js/api.d.ts from `cairn openapi` (openapi-typescript).
sdk: build
	@scripts/sdk-types

clean:
	@rm -rf build build-asan build-tsan build-fuzz build-coverage
