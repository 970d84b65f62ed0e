# `make check` runs exactly what CI runs (after installing): lint, format check, types, tests.
PY ?= python3
BIN := $(if $(wildcard .venv/bin/python),.venv/bin/,)

.PHONY: install check lint typecheck test example

install:
	$(PY) -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e '.[voices,dev]'
	# faces: dlib and its shipped models, so the lip-sync and identity checks run on real faces
	.venv/bin/pip install -q -e '.[faces]'

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
