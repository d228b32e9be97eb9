# Two commands on a fresh machine:  `make demo` (serve the app)  and  `make test` (run every test).
.PHONY: env dev-env demo test lint bench
SHELL := /bin/bash

env:            ## create or reuse the virtualenv; its python path is the last line printed
	@scripts/env.sh

dev-env:
	@scripts/env.sh --dev

demo:           ## serve the app on http://127.0.0.1:7860
	@PY=$$(scripts/env.sh | tail -n 1) && exec $$PY app.py

test:           ## the whole suite: lint, unit tests, app and browser tests
	@PY=$$(scripts/env.sh --dev | tail -n 1) && $$PY -m ruff check . && $$PY -m pytest

lint:
	@PY=$$(scripts/env.sh --dev | tail -n 1) && $$PY -m ruff check .

bench:          ## speed and memory ratios (not tests)
	@PY=$$(scripts/env.sh | tail -n 1) && $$PY benchmarks/overhead.py
