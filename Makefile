# houston.stack: developer entry points. Every target uses the project venv (.venv).
#   make demo   bring the lab up (real Consul + fleetlab) and run the example deploy
#   make test   every quality gate (what .ci/run runs)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON3 ?= python3
PY := $(CURDIR)/$(VENV)/bin/python
STAMP := $(VENV)/.requirements-dev.stamp
COLLECTIONS := $(CURDIR)/.cache/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/houston/stack
ANSIBLE_TEST_REQUIREMENTS := $(VENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py
PYTEST_ARGS ?=
# Integration test files run in parallel, each worker on its own lab (a test file stays on one worker).
TEST_WORKERS ?= 2
SANITY_ARGS ?=

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv lab-up lab-down lab-status demo sanity lint docs-lint unit integration molecule build \
	changelog-lint test collections-link bench bench-readme soak

help:
	@echo "make demo            lab up (real Consul + fleetlab) and the example deploy"
	@echo "make test            all gates: sanity lint docs-lint unit integration molecule build changelog-lint"
	@echo "make lab-up|lab-down|lab-status   the local lab (LAB_DIR, LAB_NET, LAB_MACHINES ... see README)"
	@echo "make bench           deploy speed vs the floor, Houston 0.3.0 and at scale (README table: make bench-readme)"
	@echo "make soak            load tests (concurrent stacks, 200 sequential deploys)"
	@echo "make venv            create .venv with requirements-dev.txt"

# --- environment ------------------------------------------------------------------------------
venv: $(STAMP)

$(STAMP): requirements-dev.txt requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -r requirements-dev.txt
	touch $@

collections-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@[ -L $(COLLECTION_LINK) ] || ln -sfn $(CURDIR) $(COLLECTION_LINK)

# --- the lab ----------------------------------------------------------------------------------
lab-up: $(STAMP)
	$(PY) -m lab up

lab-down: $(STAMP)
	$(PY) -m lab down

lab-status: $(STAMP)
	$(PY) -m lab status

demo: $(STAMP) collections-link
	$(PY) -m lab ensure
	if [ -f examples/lab/demo.sh ]; then bash examples/lab/demo.sh; else $(PY) -m lab status; fi

# --- quality gates ----------------------------------------------------------------------------
# ansible-test needs the collection under ansible_collections/houston/stack: a copy of the tracked
# files in a temporary directory. Its pip bootstrap downloads get-pip from an unreachable host
# unless a cached copy exists: the stand-in in tools/ is put there first.
sanity: $(STAMP)
	pip_version=$$(sed -n "s/^ *pip='\([0-9.]*\)',\$$/\1/p" $(ANSIBLE_TEST_REQUIREMENTS) | head -n1); \
	get_pip="$$HOME/.ansible/test/cache/get_pip_$${pip_version//./_}.py"; \
	if [ -n "$$pip_version" ] && [ ! -f "$$get_pip" ]; then \
	  mkdir -p "$$(dirname "$$get_pip")" && cp tools/ansible_test_get_pip.py "$$get_pip" && echo "sanity: wrote $$get_pip"; fi
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tree=$$($(PY) tools/collection_tree.py "$$tmp"); \
	cd "$$tree" && ansible-test sanity --local --python 3.11 --requirements $(SANITY_ARGS)

lint: $(STAMP)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir -p "$$tmp/collections/ansible_collections/houston"; \
	ln -s "$(CURDIR)" "$$tmp/collections/ansible_collections/houston/stack"; \
	paths=""; for d in roles playbooks extensions/molecule; do [ -d "$$d" ] && paths="$$paths $$d"; done; \
	if [ -z "$$paths" ]; then echo "lint: no roles/, playbooks/ or extensions/molecule/ yet: nothing to lint"; exit 0; fi; \
	ANSIBLE_HOME="$$tmp/ansible" XDG_CACHE_HOME="$$tmp/cache" ANSIBLE_COLLECTIONS_PATH="$$tmp/collections" \
	  ansible-lint --profile production --offline --nocolor $$paths

docs-lint: $(STAMP)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	tree=$$($(PY) tools/collection_tree.py "$$tmp"); \
	ANSIBLE_COLLECTIONS_PATH="$$tmp" antsibull-docs lint-collection-docs --plugin-docs "$$tree"

unit: $(STAMP) collections-link
	pytest -n $(TEST_WORKERS) tests/unit $(PYTEST_ARGS)

integration: $(STAMP) collections-link
	paths=""; for d in tests/integration tests/lab; do [ -d "$$d" ] && paths="$$paths $$d"; done; \
	pytest -n $(TEST_WORKERS) --dist loadfile $$paths $(PYTEST_ARGS)

molecule: $(STAMP) collections-link
	molecule test --all

build: $(STAMP)
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	ansible-galaxy collection build --force --output-path "$$tmp" .; \
	$(PY) tools/check_build.py "$$tmp"/houston-stack-*.tar.gz

changelog-lint: $(STAMP)
	antsibull-changelog lint

# Load: 20 stacks at once on 30 virtual machines, 200 deploys in a row (tests/soak; see docs/reliability.md).
soak: $(STAMP) collections-link
	pytest tests/soak -s $(PYTEST_ARGS)

# --- benchmark ------------------------------------------------------------------------------
# The example stack on its own lab against the floor and Houston 0.3.0, and fleetlab's virtual
# mode at scale: writes bench/results/latest.json and latest.md (see bench/README.md).
bench: $(STAMP) collections-link
	$(PY) -m bench

bench-readme: $(STAMP)
	$(PY) -m bench readme README.md

test: sanity lint docs-lint unit integration molecule build changelog-lint
