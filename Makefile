.PHONY: install test lint format bench snapshots
install:
	pip install torch==2.13.0 -e ".[test]"
test:
	python -m pytest
lint:
	ruff check . && ruff format --check .
format:
	ruff format . && ruff check --fix .
snapshots:
	python -m pytest tests/ui --snapshot-update
bench:
	python bench/bench_engine.py
