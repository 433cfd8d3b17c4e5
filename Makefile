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
# parliament (IAM policy analyser) needs pkg_resources, gone from setuptools >= 81: own venv too.
POLICY_VENV := .venv-policy
POLICY_STAMP := $(POLICY_VENV)/.installed
POLICY_PACKAGES := parliament==1.6.4 json-cfg==0.4.2 kwonly-args==1.0.10 setuptools==80.9.0 boto3==1.43.11
POLICY_PLAN := build/policy-check/plan.json
# checkov's IAM and resource-policy checks, run on the plan JSON where the documents are visible
# (tests/policy/test_policy_check.py runs the same list).
PLAN_POLICY_CHECKS := CKV_AWS_40,CKV_AWS_60,CKV_AWS_61,CKV_AWS_62,CKV_AWS_63,CKV_AWS_70,CKV_AWS_93,CKV_AWS_286,CKV_AWS_287,CKV_AWS_288,CKV_AWS_289,CKV_AWS_290,CKV_AWS_355,CKV2_AWS_40
# Offline provider mirror on this kind of machine; elsewhere Terraform uses the registry.
TF_MIRROR ?= /opt/tf-plugins
ifneq ($(wildcard $(TF_MIRROR)),)
export TF_CLI_CONFIG_FILE := $(CURDIR)/terraform/offline.tfrc
endif
export SAGEMAKER_USER_CONFIG_OVERRIDE := $(CURDIR)/tests/sagemaker_config.yaml
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test test-python test-terraform scan policy-check lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[training,dev]'
	touch $@

demo: install
	$(BIN)/invoke demo

test: install lint test-terraform scan policy-check test-python

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

# Every rendered policy document (role, trust, bucket, key policies) from a plan of the whole
# stack against a private emulator, checked for wildcard grants (dogops/policy_check.py):
# checkov above reads the HCL and never sees the templatefile() renderings.
$(POLICY_STAMP):
	$(PYTHON) -m venv $(POLICY_VENV)
	$(POLICY_VENV)/bin/pip install --quiet $(POLICY_PACKAGES)
	touch $@

policy-check: install $(POLICY_STAMP) $(SCAN_STAMP)
	$(BIN)/python -m dogops.policy_render --out $(POLICY_PLAN)
	$(POLICY_VENV)/bin/python -m dogops.policy_check $(POLICY_PLAN)
	$(SCAN_VENV)/bin/checkov --quiet --compact --framework terraform_plan -f $(POLICY_PLAN) --check $(PLAN_POLICY_CHECKS)

# tests/policy runs the policy checker and checkov in their venvs
test-python: install $(POLICY_STAMP) $(SCAN_STAMP)
	$(BIN)/pytest

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf build .dogops .pytest_cache terraform/.terraform $(SCAN_VENV) $(POLICY_VENV)
