# Two commands on a fresh machine: `make study` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup lock test test-fast study reproduce report data clean-venv

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml Makefile
	$(PYTHON) -m gan_lib.environment check-inputs
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# Exactly the locked versions (with their hashes); the project itself comes from this folder.
	$(PY) -m pip install --no-deps --require-hashes -r requirements.lock
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3
	$(PY) -m gan_lib.environment check-installed
	touch $(STAMP)

# Regenerate requirements.lock after changing a dependency in pyproject.toml or tools/lock/ (then `make setup`);
# pins already in the lock stay unless asked: make lock LOCK_FLAGS="--upgrade-package NAME".
lock:
	test -x $(VENV)/bin/uv || { test -x $(PY) || $(PYTHON) -m venv $(VENV); \
		$(PY) -m pip install "$$(grep -o '^uv==[0-9.]*' tools/lock/extra.in)"; }
	$(VENV)/bin/uv pip compile pyproject.toml tools/lock/extra.in --extra test --override tools/lock/overrides.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		--custom-compile-command "make lock" --quiet $(LOCK_FLAGS) -o requirements.lock
	$(PYTHON) -m gan_lib.environment stamp

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

# Render every study's report again (and the index results/report.html): each carries the conclusions, which read
# every study's rows. Unchanged results change no file.
report: $(STAMP)
	$(PY) -m gan_lib.report reports

clean-venv:
	rm -rf $(VENV)
