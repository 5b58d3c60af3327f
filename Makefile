# Airlock: two commands matter, `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages: a C compiler and Python's headers (the native run core and python-prctl
# are C extensions), libcap headers (python-prctl builds against them), Prosody (real XMPP server
# for tests and the demo), bubblewrap (the bench's comparison runner), Rust's wasm32 std and
# clang's wasi-libc (skill toolchains besides the Zig one from PyPI).
APT_PACKAGES := gcc python3-dev libcap-dev prosody bubblewrap rustc libstd-rust-dev-wasm32 clang lld wasi-libc libclang-rt-14-dev-wasm32

.PHONY: all install skills demo test lint types pytest security bench clean

all: test

# The native run core (sandbox/native/) is a C extension: pip builds it, so its sources count.
$(STAMP): pyproject.toml $(wildcard sandbox/native/*.c sandbox/native/*.h)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# Build every shipped skill from source and record its digest lock (tests and the demo run the
# real modules). About 85 s with empty toolchain caches, 30 s warm.
skills: $(STAMP)
	$(BIN)/airlock skill build skills_wasm

demo: $(STAMP)
	$(PY) -m host.demo

lint: $(STAMP)
	$(BIN)/ruff check host sandbox tests bench
	$(BIN)/ruff format --check host sandbox tests bench

types: $(STAMP)
	$(BIN)/mypy

pytest: skills
	$(BIN)/pytest -q

# The attack suite alone; it ends with the security report (attacks tried, blocked, leaked,
# skipped, threat rows covered) and writes it as JSON to $(SECURITY_REPORT) for CI.
SECURITY_REPORT ?= build/security-report.json
security: skills
	AIRLOCK_SECURITY_REPORT=$(SECURITY_REPORT) $(BIN)/pytest -q tests/security

test: lint types pytest

bench: $(STAMP)
	$(PY) bench/sandbox.py
	$(PY) bench/policy.py
	$(PY) bench/xmpp.py

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache .pytest_cache
