# Səsim developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian packages each target needs (installed when run as root, named otherwise).
DEBS_RUN := gnupg poppler-utils dovecot-imapd openssl $(if $(TOR),tor)
DEBS_TEST := gnupg chromium npm tor poppler-utils default-jre-headless nginx-light dovecot-imapd debootstrap systemd-container curl openssl
DEBS_BENCH := gnupg wrk poppler-utils
HOME_DIR ?=

.PHONY: ansible-venv ansible-lock dist test-deploy wordlists help install debs-run debs-test debs-bench run test lint bench translations lock clean vendor-map basemap

help: ## List the developer commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check setuptools==65.5.0 wheel==0.48.0

$(VENV)/.installed: requirements.lock setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed translations ## Create .venv and install the project with pinned dependencies (idempotent)

translations: $(VENV)/.installed ## Compile the az, ru and en message catalogues
	@$(BIN)/pybabel compile -d securedrop_like/translations >/dev/null

debs-run:
	@bash scripts/debs.sh $(DEBS_RUN)

debs-test:
	@bash scripts/debs.sh $(DEBS_TEST)

debs-bench:
	@bash scripts/debs.sh $(DEBS_BENCH)

run: debs-run install ## Set up and run the whole system locally (sesim demo)
	$(BIN)/sesim demo $(if $(HOME_DIR),--home $(HOME_DIR)) $(if $(TOR),--tor)

test: debs-test install ansible-venv tests/browser/node_modules/axe-core/axe.min.js lint ## Set up and run lint, types and the whole test suite (deploy tests included)
	$(BIN)/pytest -q -p no:cacheprovider

test-deploy: debs-test install ansible-venv ## Only the deployment tests: ansible applied to a debootstrap root (cached in .cache/deploy)
	$(BIN)/pytest -q -p no:cacheprovider tests/deploy

ANSIBLE_VENV := .venv-ansible

$(ANSIBLE_VENV)/.installed: ansible/requirements.lock
	$(PYTHON) -m venv $(ANSIBLE_VENV)
	$(ANSIBLE_VENV)/bin/pip install --quiet --disable-pip-version-check -r ansible/requirements.lock
	touch $@

ansible-venv: $(ANSIBLE_VENV)/.installed ## The ansible controller's virtualenv (.venv-ansible: ansible, ansible-lint)

ansible-lock: ## Re-pin ansible/requirements.lock (ansible and ansible-lint)
	rm -rf /tmp/sesim-ansible-lock && $(PYTHON) -m venv /tmp/sesim-ansible-lock
	/tmp/sesim-ansible-lock/bin/pip install --quiet ansible==12.3.0 ansible-lint
	(sed -n 1,3p ansible/requirements.lock; /tmp/sesim-ansible-lock/bin/pip freeze --all | grep -v "^pip==\|^setuptools==\|^wheel==") > ansible/requirements.lock.new
	mv ansible/requirements.lock.new ansible/requirements.lock

dist: install ## Build what the ansible role installs: dist/sesim-*.whl (reproducible) and dist/wheelhouse/ (the server's pinned wheels)
	bash scripts/dist.sh

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --silent

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: debs-bench install ## Run the benchmarks and print their table
	$(BIN)/python -m bench

extract: install ## Extract messages and update the catalogues
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o securedrop_like/translations/messages.pot --no-location --sort-output --project=sesim securedrop_like source_interface journalist_interface public_map intake
	$(BIN)/pybabel update -i securedrop_like/translations/messages.pot -d securedrop_like/translations --no-fuzzy-matching --ignore-obsolete -w 100

vendor-map: install ## Refresh the public map's vendored Leaflet/markercluster/supercluster from npm (pinned)
	$(BIN)/python scripts/map/vendor.py

basemap: install ## Regenerate the public map's compact district and metro GeoJSON from the core's data
	$(BIN)/python scripts/map/basemap.py

wordlists: ## Rebuild the az and ru codename word lists from scripts/words/ (deterministic)
	$(BIN)/python scripts/words/build.py

lock: ## Re-pin requirements.lock from requirements.in, and its runtime subset requirements-server.lock
	rm -rf /tmp/sesim-lock && $(PYTHON) -m venv /tmp/sesim-lock
	/tmp/sesim-lock/bin/pip install --quiet -r requirements.in
	(echo '# Pinned with `pip freeze` from requirements.in on Python 3.11; update with `make lock`.'; /tmp/sesim-lock/bin/pip freeze --all | grep -v "^pip==") > requirements.lock
	/tmp/sesim-lock/bin/python scripts/server_lock.py > requirements-server.lock

clean: ## Remove the virtualenv and build artefacts
	rm -rf $(VENV) $(ANSIBLE_VENV) *.egg-info build dist .cache tests/browser/node_modules test-artifacts
