# The two commands of the README (`make run`, `make test`) do all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PORT   ?= 8000
# The deployment stage (`make deploy STAGE=prod`); names are flowlane-<stage>-...
STAGE  ?= dev
# The CDK CLI, installed from npm into .cdk/ on first use (Node.js is needed by the CDK anyway).
CDK_CLI_VERSION := 2.1148.1
CDK    := .cdk/node_modules/.bin/cdk
# jsii warns about Node's support window on every start; the CDK works on Node 20.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install run test lint format bench clean synth bootstrap deploy diff destroy

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Flowlane needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/flowlane dev --port $(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	MYPYPATH=cdk $(BIN)/mypy --strict -p flowlane_cdk

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/node_runner.py
	$(BIN)/python benchmarks/validate.py
	$(BIN)/python benchmarks/compile.py
	$(BIN)/python benchmarks/triggers.py
	$(BIN)/python benchmarks/agent.py
	$(BIN)/python benchmarks/agent_cold_start.py
	$(BIN)/python benchmarks/synth.py

# Synthesise without Docker or an AWS account (layers built by pip for arm64), then lint the
# template: what SAM (`sam local start-api -t cdk.out/flowlane-dev.template.json`) runs.
synth: install
	$(BIN)/python cdk/app.py --stage $(STAGE)
	$(BIN)/cfn-lint --config-file .cfnlintrc.yaml -- cdk.out/flowlane-$(STAGE).template.json
	@echo "cdk.out/flowlane-$(STAGE).template.json: synthesised, cdk-nag and cfn-lint clean"

$(CDK):
	@command -v npm >/dev/null || { echo "The CDK CLI needs Node.js and npm: https://nodejs.org"; exit 1; }
	npm install --prefix .cdk --no-audit --no-fund --loglevel=error aws-cdk@$(CDK_CLI_VERSION)

# Once per account and region: the CDK's asset bucket and deployment roles.
bootstrap: install $(CDK)
	$(CDK) bootstrap -c stage=$(STAGE)

deploy: install $(CDK)
	$(CDK) deploy flowlane-$(STAGE) -c stage=$(STAGE) $(CDK_ARGS)

diff: install $(CDK)
	$(CDK) diff flowlane-$(STAGE) -c stage=$(STAGE) $(CDK_ARGS)

destroy: install $(CDK)
	$(CDK) destroy flowlane-$(STAGE) -c stage=$(STAGE) $(CDK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache cdk.out .cdk
