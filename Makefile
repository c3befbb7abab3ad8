# Every target installs what it needs into .venv first (idempotent, stamp files).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CURATE := $(VENV)/bin/curate

.PHONY: install install-all models browser ffmpeg whisperx demo test bench lint clean

$(VENV)/.stamp-core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[dev]"
	touch $@

$(VENV)/.stamp-all: pyproject.toml $(VENV)/.stamp-core
	$(PIP) install --quiet -e ".[dev,audio,eval]"
	touch $@

# torch lives in its own environment (heavy; the text pipeline stays light): the WhisperX backend,
# Mimi codes. The tests that need it run there, every other test in .venv; none is skipped.
WXVENV := build/venv-whisperx
$(WXVENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(WXVENV)
	$(WXVENV)/bin/pip install --quiet --upgrade pip
	$(WXVENV)/bin/pip install --quiet torch==2.9.1 "torchaudio==2.9.*"
	$(WXVENV)/bin/pip install --quiet --no-deps whisperx==3.8.6
	$(WXVENV)/bin/pip install --quiet -e ".[dev,audio,whisperx,mimi,hf-audio]"
	touch $@

whisperx: $(WXVENV)/.stamp

install: $(VENV)/.stamp-core
install-all: $(VENV)/.stamp-all

models: $(VENV)/.stamp-core
	$(PY) -m curate.core.models install

demo: install models
	$(CURATE) demo --output demo-output

# headless Chromium for the report page test (Debian package)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# FFmpeg's shared libraries (Debian) for torchcodec: `datasets` decodes the shards' audio with it
ffmpeg:
	-@ldconfig -p | grep -q libavcodec.so || (apt-get update -qq && apt-get install -y -qq --no-install-recommends libavdevice59 libavfilter8 libavformat59 libavcodec59 libavutil57 libswscale6 libswresample4 >/dev/null) || echo "FFmpeg libraries not installed: the datasets audio decoding test will fail"

TORCH_TESTS := tests/align/test_whisperx.py tests/shards/test_mimi.py tests/shards/test_consumers_torch.py

test: install-all models browser ffmpeg whisperx
	CURATE_NO_SKIP=1 $(PY) -m pytest -q $(addprefix --ignore=,$(TORCH_TESTS))
	CURATE_NO_SKIP=1 $(WXVENV)/bin/python -m pytest -q $(TORCH_TESTS)

$(VENV)/.stamp-bench: pyproject.toml $(VENV)/.stamp-all
	$(PIP) install --quiet -e ".[dev,audio,bench]"
	touch $@

bench: install-all models $(VENV)/.stamp-bench
	$(PY) -m bench.run_all

lint: install
	$(VENV)/bin/ruff check curate tests bench classifiers
	$(VENV)/bin/ruff format --check curate tests bench

clean:
	rm -rf demo-output build .pytest_cache
