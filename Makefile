# `make check` runs exactly what CI runs (after installing): lint, format check, types, tests.
PY ?= python3
BIN := $(if $(wildcard .venv/bin/python),.venv/bin/,)

.PHONY: install check lint typecheck test example

install:
	$(PY) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e '.[voices,dev]'
	# The MCP Inspector CLI, the client MCP users test servers with (tests/test_mcp_inspector.py
	# skips without it); only where npm is installed.
	if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix .ci/node @modelcontextprotocol/inspector@2.12.0 || echo 'no MCP Inspector: its test skips'; fi

lint:
	$(BIN)ruff check dramaforge tests bench
	$(BIN)ruff format --check dramaforge tests bench

typecheck:
	$(BIN)mypy

test:
	$(BIN)pytest -q

check: lint typecheck test

example:
	$(BIN)dramaforge render examples/campus_ep01.zh.txt --out out
