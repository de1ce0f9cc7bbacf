# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
APT_PACKAGES := redis-server nginx-light chromium
BENCH_PACKAGES := wrk hey

.PHONY: demo test install system-packages bench lint tracker

demo: install
	footfall demo

test: install
	$(PYTHON) -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]  # 5: no tests collected (a filter matched none)

install: system-packages
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	npm ci --silent --no-audit --no-fund   # terser, to check static/footfall.min.js is built from the source

# Debian packages the tests start for real; installed only when missing (needs root, as on our machines).
system-packages:
	@missing=$$(for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

bench:
	$(MAKE) install EXTRA_PACKAGES="$(BENCH_PACKAGES)"
	cd bench && $(PYTHON) bench_collector.py && $(PYTHON) bench_drainer.py && $(PYTHON) bench_lag.py \
		&& $(PYTHON) bench_middleware.py

lint:
	ruff check .

tracker:   # rebuild static/footfall.min.js after editing static/footfall.js
	npm ci --silent --no-audit --no-fund && npm run -s build
