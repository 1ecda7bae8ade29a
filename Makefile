# Every target that needs Python depends on $(STAMP), so a fresh clone runs
# setup first. The stamp is rebuilt when the dependency pins change.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
UV     := python3 -m uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup test demo release autograde kaggle bench lint lock chromium clean

setup: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python python3
	$(PY) -m helpers doctor
	@touch $@

test: $(STAMP)
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) -m grading.demo --out outputs/demo

# The student version of notebooks/ in grading/course/release, checked with
# `nbgrader validate --invert` (its TODO tests must fail).
release: $(STAMP)
	$(PY) -m grading.pipeline release

# Grade grading/submitted/<student>/ (releasing first if there is no gradebook yet):
# grading/course/grades.csv and grading/course/feedback/<student>/.
autograde: $(STAMP)
	@test -f grading/course/gradebook.db || $(PY) -m grading.pipeline release
	$(PY) -m grading.pipeline autograde

# What a course uploads to Kaggle (grading/kaggle.py): outputs/kaggle/<assignment>/ (the
# released notebook with a bootstrap cell, kernel-metadata.json) and outputs/kaggle/wheels/
# (the kit's wheel and the dependencies Kaggle lacks, downloaded from PyPI). Releases
# first when there is no release yet or a notebook changed since the last one.
kaggle: $(STAMP)
	@if [ ! -f grading/course/gradebook.db ] || [ -n "$$(find notebooks -name '*.ipynb' -newer grading/course/gradebook.db)" ]; then \
		$(PY) -m grading.pipeline release; fi
	$(PY) -m grading.kaggle --out outputs/kaggle

bench: $(STAMP)
	$(PY) -m benchmarks

lint: $(STAMP)
	$(PY) -m ruff check helpers grading tests benchmarks
	$(PY) -m ruff format --check helpers grading tests benchmarks

# Re-resolve the pins after editing dependencies in pyproject.toml.
lock:
	$(UV) lock
	$(PY) -m tests.test_environment --write

# Debian's chromium for tests/test_browser.py, which drives it with Playwright
# (Playwright never downloads a browser of its own here). Without it that test
# skips locally; .ci/run installs it, and there the test fails without it.
CHROMIUM_APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@test -x /usr/bin/chromium || $(SUDO) sh -c '$(CHROMIUM_APT) >/dev/null 2>&1 || { apt-get update -qq && $(CHROMIUM_APT); }'
	@/usr/bin/chromium --version 2>/dev/null

clean:
	rm -rf $(VENV) outputs .pytest_cache grading/course
