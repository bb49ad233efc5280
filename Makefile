# Everything a fresh machine needs: `make run` and `make test` set up the rest themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
PO := $(wildcard locales/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint format migrate install messages extract bench clean

run: $(INSTALLED) $(MO)
	$(PY) -m bot run

# With TEST_DATABASE_URL set, the suite runs on SQLite and on PostgreSQL at the same time (two
# processes, two cores): the SQLite run's report is printed after the PostgreSQL one.
test: $(INSTALLED) $(MO)
	@if [ -z "$$TEST_DATABASE_URL" ]; then \
		$(PY) -m pytest; \
	else \
		echo "== the suite on SQLite and, at the same time, on PostgreSQL ($$TEST_DATABASE_URL)"; \
		env -u TEST_DATABASE_URL $(PY) -m pytest -p no:cacheprovider > .test-sqlite.log 2>&1 & \
		sqlite=$$!; \
		$(PY) -m pytest; postgres=$$?; \
		wait $$sqlite; lite=$$?; \
		echo "== the same suite on SQLite"; cat .test-sqlite.log; rm -f .test-sqlite.log; \
		test $$postgres -eq 0 && test $$lite -eq 0; \
	fi

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: $(INSTALLED)
	$(PY) -m bot migrate

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

messages: $(MO)

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(INSTALLED)
	$(VENV)/bin/pybabel compile --use-fuzzy -i $< -o $@

# After changing texts in code: refresh the catalogues, then translate the new entries.
extract: $(INSTALLED)
	$(PY) locales/sync.py

bench: $(INSTALLED) $(MO)
	$(PY) -m bench
	$(PY) -m bench.kpi

clean:
	rm -rf $(VENV) $(MO) .pytest_cache .ruff_cache
