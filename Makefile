# The README's two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
JOBS ?= 2
DATA ?= ./data
LISTEN ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 30

.PHONY: run test deps build build-asan build-tsan build-fuzz unit e2e e2e-asan fuzz bench lint format docs clean

run: deps build
	@scripts/run --listen $(LISTEN) --data $(DATA)

test: deps build build-asan build-tsan build-fuzz
	@scripts/test-all

deps:
	@scripts/deps

build:
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_TESTS=ON >/dev/null
	@cmake --build build -j$(JOBS)

build-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCAIRN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-tsan:
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCAIRN_TSAN=ON -DCAIRN_TESTS=OFF >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target cairn

build-fuzz:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAIRN_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

unit: build
	@cd build && ctest --output-on-failure

e2e: build
	@CAIRN_BIN=build/cairn node --test tests/e2e/

fuzz: build-fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

bench: build
	@bash bench/run.sh

lint:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -I src src

format:
	@clang-format -i src/*.c src/*/*.c src/*/*.h src/*/*/*.c src/*/*/*.h tests/unit/*.c tests/fuzz/*.c bench/*.c

# The key tables of docs/configuration.md, from the binary's tables (a test checks them).
docs: build
	@scripts/config-docs

clean:
	@rm -rf build build-asan build-tsan build-fuzz
