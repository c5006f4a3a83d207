# binedge: the two commands a new user needs are `make demo` and `make test`.
# Both run scripts/bootstrap.sh first (idempotent: Debian packages when missing, then .venv).
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast runtime clean
setup:
	bash scripts/bootstrap.sh

demo: setup
	bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

runtime:
	$(MAKE) -C runtime_c

clean:
	rm -rf runtime_c/build build
