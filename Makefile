# Everything a new clone needs: `make demo` (the whole local loop) and `make test` (all checks).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins its own boto3, so it lives in a venv of its own.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed
CHECKOV_VERSION := 3.3.30
# Offline provider mirror on this kind of machine; elsewhere Terraform uses the registry.
TF_MIRROR ?= /opt/tf-plugins
ifneq ($(wildcard $(TF_MIRROR)),)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraform/offline.tfrc
endif
export SAGEMAKER_USER_CONFIG_OVERRIDE := $(CURDIR)/tests/sagemaker_config.yaml
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test test-python test-terraform scan lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[training,dev]'
	touch $@

demo: install
	$(BIN)/invoke demo

test: install lint test-terraform scan test-python

lint: install
	$(BIN)/ruff check dogops training lambda_function tests bench tasks.py
	terraform fmt -check -recursive terraform
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

test-terraform:
	terraform -chdir=terraform init -backend=false -input=false >/dev/null
	terraform -chdir=terraform validate
	terraform -chdir=terraform test

$(SCAN_STAMP):
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

scan: $(SCAN_STAMP)
	$(SCAN_VENV)/bin/checkov --quiet --compact --framework terraform -d terraform --config-file .checkov.yaml

test-python: install
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf build .dogops .pytest_cache terraform/.terraform $(SCAN_VENV)
