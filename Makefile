# Two commands do everything on a fresh machine:
#   make demo   the pipeline end to end on the embedded local cloud, with a report
#   make test   lint, types and the whole test suite
# Each creates .venv and installs the pinned requirements on first use, then this project
# itself in editable mode (its packages and its pytest plugin, registered as an entry point).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt functions/requirements.txt requirements-dev.txt constraints.txt pyproject.toml | cksum | cut -d' ' -f1)
STAGE ?= dev
# More CDK context, e.g. ALARMS="-c alarm_email=you@example.com" (prod requires a target).
ALARMS ?=
PORT ?= 5000
PYTEST_ARGS ?=

# CDK and jsii: no end-of-life banner, no telemetry or version calls, caches in the tree.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
export CDK_HOME := $(CURDIR)/.cdk-home
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.jsii-cache

.PHONY: demo test test-fast chromium valgrind lint typecheck bench campaign campaign-long local-up synth lint-cfn deploy-local deploy destroy clean

# The project installs without its dependencies: requirements-dev.txt pins them (the extras'
# too) and setuptools, so the editable build needs no download.
$(STAMP): requirements.txt functions/requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e '.[cdk,local]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipeline demo

test: $(STAMP) node_modules chromium lint typecheck
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# $(call debian_package,PACKAGE,COMMANDS,WITHOUT): installs Debian's PACKAGE when none of
# COMMANDS is on the PATH and apt-get is usable (root); otherwise says WITHOUT, what then
# happens. It never fails the build.
define debian_package
	@for command in $(2); do command -v $$command >/dev/null 2>&1 && exit 0; done; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(1) (Debian's package)..."; \
		{ apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; } || \
		echo "$(1) could not be installed: $(3)"; \
	else \
		echo "$(1) absent and apt-get not usable (needs root): $(3)"; \
	fi
endef

# Headless Chromium for the browser test of the HTML report (tests/browser); without it
# that test skips and says why: the test is what reports a missing browser.
chromium:
	$(call debian_package,chromium,chromium chromium-browser,the browser test will skip)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy functions infra pipeline bench app.py exactly_once_cdk exactly_once_local

bench: $(STAMP) valgrind
	$(BIN)/python -m bench

# valgrind counts the cold start's instructions (the bench row the machine's load does not
# move); without it the bench reports that row as not counted and says why.
valgrind:
	$(call debian_package,valgrind,valgrind,the bench will not count instructions)

# The ledger campaigns (both modes, and the retention check), then the two stages.
campaign: $(STAMP)
	$(BIN)/python -m pipeline campaign
	$(BIN)/python -m pipeline chain

campaign-long: $(STAMP)
	$(BIN)/python -m pipeline campaign --long --json reports/campaign-long.json
	$(BIN)/python -m pipeline chain --long --json reports/chain-long.json

local-up: $(STAMP)
	$(BIN)/python -m pipeline local up --port $(PORT) --stage $(STAGE)

node_modules: package.json package-lock.json
	npm ci --no-fund --no-audit
	touch node_modules

synth: $(STAMP) node_modules
	PATH=$(CURDIR)/$(BIN):$$PATH npx --no-install cdk synth -q -c stage=$(STAGE) $(ALARMS)

lint-cfn: synth
	$(BIN)/cfn-lint

deploy-local: $(STAMP) node_modules
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pipeline.deploy_local --port $(PORT) --stage $(STAGE)

# The app has two stacks per stage (ledger and orders): deploy and destroy take them all.
deploy: $(STAMP) node_modules
	PATH=$(CURDIR)/$(BIN):$$PATH npx --no-install cdk deploy --all -c stage=$(STAGE) $(ALARMS)

destroy: $(STAMP) node_modules
	PATH=$(CURDIR)/$(BIN):$$PATH npx --no-install cdk destroy --all -c stage=$(STAGE) $(ALARMS)

clean:
	rm -rf $(VENV) node_modules cdk.out .cdk-home .jsii-cache reports .pytest_cache .mypy_cache .ruff_cache
	rm -rf build dist *.egg-info
