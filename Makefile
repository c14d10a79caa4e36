# Developer entry points. `make demo` and `make test` are the two documented commands.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv sanity units sandbox-tests integration lint docs-lint changelog-lint galaxy-importer test-matrix docs bench build clean sandbox

venv: $(STAMP)

$(STAMP): requirements-dev.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@echo "$(CURDIR)/tests" > "$$($(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/btp_sandbox.pth"
	@touch $(STAMP)

demo: $(STAMP)
	@scripts/demo.sh

test: $(STAMP)
	@scripts/test.sh all

sanity units sandbox-tests integration lint docs-lint changelog-lint galaxy-importer: $(STAMP)
	@scripts/test.sh $@

# sanity, units and the e2e role suite under ansible-core 2.17 and 2.18 (venvs cached in ~/.cache/sap_btp.cloud_integration/venv-matrix/)
test-matrix: $(STAMP)
	@scripts/test.sh matrix

# the HTML docs site, offline, warnings as errors: build/docs/index.html
docs: $(STAMP)
	@scripts/docs.sh

# The BTP sandbox and OpenBao in the foreground, with a stable CA path and stable ports (docs/sandbox.md). Ctrl-C stops them.
sandbox: $(STAMP)
	@$(VPY) scripts/sandbox.py $(SANDBOX_ARGS)

bench: $(STAMP)
	@scripts/bench.sh $(BENCH_ARGS)

build: $(STAMP)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build tests/output .stage
