# The same commands on a laptop and in CI (.ci/run calls scripts/test.py).
.PHONY: run test lint bench

run:
	python3 scripts/run.py

test:
	python3 scripts/test.py

lint:
	.venv/bin/ruff check src tests bench scripts && .venv/bin/ruff format --check src tests bench scripts && .venv/bin/mypy

bench:
	python3 bench/run.py
