# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first, into a
# virtual environment of the project's own (.venv), from the pinned versions in constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 8000
DIR ?= footfall-demo
APT_PACKAGES := redis-server nginx-light chromium systemd
BENCH_PACKAGES := wrk hey
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: demo test install system-packages bench lint tracker lock

# Tests, the demo and the benchmarks start `footfall` and `python` from the project's environment.
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(abspath $(VENV))

demo: install
	footfall demo --port $(PORT) --dir $(DIR)

test: install
	python -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: no tests collected (a filter matched none)

install: system-packages $(BIN)/python
	$(PIP) install -c constraints.txt -e ".[test]"
	npm ci --silent --no-audit --no-fund   # terser, to check static/footfall.min.js is built from the source

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Refresh the pins on purpose: every dependency resolved afresh (within pyproject.toml's bounds) in a new
# environment, then frozen. Review the diff of constraints.txt, run `make test`, commit both.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip --quiet --disable-pip-version-check install ".[test]"
	( echo "# Every dependency the tests use, pinned: written by 'make lock', read by 'make install'."; \
	  .lock-venv/bin/python -m pip freeze --exclude footfall ) > constraints.txt
	rm -rf .lock-venv

# Debian packages the tests start for real; installed only when missing (needs root, as on our machines).
system-packages:
	@missing=$$(for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

bench:
	$(MAKE) install EXTRA_PACKAGES="$(BENCH_PACKAGES)"
	cd bench && python bench_collector.py && python bench_drainer.py && python bench_lag.py \
		&& python bench_middleware.py && python bench_progress.py && python bench_geo.py

lint: install
	ruff check .

tracker:   # rebuild static/footfall.min.js after editing static/footfall.js
	npm ci --silent --no-audit --no-fund && npm run -s build
