# Every target that needs Python depends on $(STAMP), so a fresh clone runs
# setup first. The stamp is rebuilt when the dependency pins change.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
UV_VERSION := 0.13.9
# The system's python3 runs uv, also in a shell where `source .venv/bin/activate` put
# .venv's python3 (which has neither uv nor pip) first on PATH.
HOST_PYTHON := $(if $(VIRTUAL_ENV),env -u VIRTUAL_ENV PATH="$(subst $(VIRTUAL_ENV)/bin:,,$(PATH))" python3,python3)
UV     := $(HOST_PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help setup test test-kaggle demo notebooks release student-kit formgrader collect autograde class-report similarity regrade drop rubric grades lms kaggle bench lint lock chromium bubblewrap clean

# Each target's line of `make help` is the `## ` text after its prerequisites: one source.
help: ## this list: every target with one line
	@awk -F ':[^#]*## ' '/^[a-z][a-z-]*:[^=]*## /{printf "make %-12s %s\n", $$1, $$2}' $(firstword $(MAKEFILE_LIST))

setup: $(STAMP) ## install the pinned environment into .venv (uv) and check it

# The instructor's tools import `grading` (nbgrader's kernels: the hidden tests import
# grading.authoring.reference) from any folder, without PYTHONPATH: a .pth file puts the
# repository root on .venv's path. The package (helpers/ only) never contains grading.
define WRITE_PTH
import pathlib, sysconfig
pth = pathlib.Path(sysconfig.get_paths()["purelib"]) / "coursekit_repository.pth"
pth.write_text(str(pathlib.Path.cwd()) + "\n")
endef
export WRITE_PTH

$(STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(HOST_PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --python python3
	$(PY) -c "$$WRITE_PTH"
	$(PY) -m helpers doctor
	@touch $@

# Every core (pytest-xdist): whole files per worker, the slowest first (tests/conftest.py);
# the 15 slowest tests are listed at the end.
test: $(STAMP) ## the whole test suite on every core (what CI runs)
	$(PY) -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=15

demo: $(STAMP) ## release, run both notebooks in smoke mode, autograde the examples
	$(PY) -m grading.demo --out outputs/demo

# The notebooks' solution regions, written from grading/authoring/reference (their one source),
# and their rubric (points, tier tables, CLIP_BASELINE) from grading/rubric.toml;
# tests/test_solutions.py and tests/test_rubric_cells.py fail while a notebook is stale.
notebooks: $(STAMP) ## write the solutions (grading/authoring/reference) and the rubric into notebooks/
	$(PY) -m grading.authoring.solutions
	$(PY) -m grading.authoring.rubric_cells

# The student version of notebooks/ in grading/course/release, checked with
# `nbgrader validate --invert` (its TODO tests must fail). Refused while the notebooks
# do not show grading/rubric.toml (the check names the fix: make notebooks).
release: $(STAMP) ## the student versions in grading/course/release, validated
	@$(PY) -m grading.authoring.rubric_cells --check
	$(PY) -m grading.distribute.release

# What students get instead of this repository (which holds the answers): the released
# notebooks, helpers and the setup, in outputs/student-kit/ and its zip (grading/distribute/student_kit.py).
student-kit: release ## the zip students get: released notebooks, helpers, setup
	$(PY) -m grading.distribute.student_kit --out outputs/student-kit --uv-version $(UV_VERSION)

# An LMS download (Canvas, Moodle, Blackboard, Brightspace or one folder per student; a zip
# or a folder) into grading/submitted/<student>/<assignment>/ (or OUT=dir), each notebook
# placed by its nbgrader cells. LMS=, ROSTER= (students.csv or Canvas's gradebook export),
# ASSIGNMENT=, TZ_NAME= (the LMS's time zone), WORKSHEET= (Moodle's grading worksheet:
# times, emails), CANVAS_URL= (the Canvas assignment's address: times from the Canvas API,
# with the token in $CANVAS_TOKEN) and TIMES= (a CSV lms_id,submitted_at) are passed on
# when set; exits 1 when anything was skipped.
OUT ?= grading/submitted
collect: $(STAMP) ## an LMS download into grading/submitted (ZIP= [LMS= ROSTER= WORKSHEET= CANVAS_URL= TIMES=])
	@test -n "$(ZIP)" || { echo "usage: make collect ZIP=path/to/download.zip (or a folder) [OUT=$(OUT)] [LMS=canvas|moodle|blackboard|brightspace|folders] [ROSTER=grading/students.csv] [ASSIGNMENT=part1] [TZ_NAME=Europe/Berlin] [WORKSHEET=moodle.csv] [CANVAS_URL=https://…/courses/1234/assignments/88101] [TIMES=times.csv]"; exit 2; }
	$(PY) -m grading.lms.collect "$(ZIP)" --out "$(OUT)"$(if $(LMS), --lms $(LMS))$(if $(ROSTER), --roster "$(ROSTER)")$(if $(ASSIGNMENT), --assignment $(ASSIGNMENT))$(if $(TZ_NAME), --timezone $(TZ_NAME))$(if $(WORKSHEET), --worksheet "$(WORKSHEET)")$(if $(CANVAS_URL), --canvas-url "$(CANVAS_URL)")$(if $(TIMES), --times "$(TIMES)")

# Grade SUBMITTED/<student>/<assignment>/ (default grading/submitted; STUDENT=id for one
# student) into grading/course/gradebook.db, each submission in bubblewrap sandboxes
# (grading/autograde/sandbox.py), merged as it finishes: grades.csv, feedback/, autograded/.
# WORKERS=n submissions at once (default 2); SCHEDULER=tcp://host:8786 or a scheduler
# file grades on a Dask cluster (grading/autograde/engine.py); RESUME=1 skips the submissions graded
# since they last changed (after an interruption); ASSIGNMENT=part1 grades one assignment;
# NO_SANDBOX=1 for trusted notebooks only. Releases first if there is no gradebook yet.
# Ends with the class report (make class-report).
SUBMITTED ?= grading/submitted
autograde: $(STAMP) ## grade grading/submitted in sandboxes into the gradebook ([STUDENT= ASSIGNMENT= WORKERS= RESUME=1])
	@test -f grading/course/gradebook.db || $(PY) -m grading.distribute.release
	$(PY) -m grading.autograde.batch --submitted "$(SUBMITTED)"$(if $(STUDENT), --student "$(STUDENT)")$(if $(ASSIGNMENT), --assignment $(ASSIGNMENT))$(if $(WORKERS), --workers $(WORKERS))$(if $(SCHEDULER), --scheduler "$(SCHEDULER)")$(if $(RESUME), --resume)$(if $(NO_SANDBOX), --no-sandbox)

# Per-TODO score distribution and most common mistakes of the class: grading/course/class_report.png and .html.
class-report: $(STAMP) ## per-TODO score distribution and most common mistakes (class_report.png, .html)
	$(PY) -m grading.records.class_report

# Similar code between submissions (copydetect, starter code excluded): ranked pairs and grading/course/similarity/<assignment>.html.
similarity: $(STAMP) ## similar code between submissions (copydetect): ranked pairs and an HTML report
	$(PY) -m grading.autograde.similarity --submitted "$(SUBMITTED)"$(if $(ASSIGNMENT), --assignment $(ASSIGNMENT))

# Re-grade one TODO for the whole class after a fix to its judge or points: make regrade TODO=1-1-2.
regrade: $(STAMP) ## re-grade one TODO for the whole class (TODO=1-1-2)
	@test -n "$(TODO)" || { echo "usage: make regrade TODO=1-1-2 [SUBMITTED=$(SUBMITTED)] [WORKERS=2]"; exit 2; }
	$(PY) -m grading.autograde.regrade "$(TODO)" --submitted "$(SUBMITTED)"$(if $(WORKERS), --workers $(WORKERS))$(if $(NO_SANDBOX), --no-sandbox)

# Drop a student from the gradebook and every later autograde: make drop STUDENT=id [REASON="withdrew"] [UNDO=1].
drop: $(STAMP) ## drop a student from the gradebook and later autogrades (STUDENT= [REASON=] [UNDO=1])
	@test -n "$(STUDENT)" || { echo "usage: make drop STUDENT=id [REASON=\"withdrew on 2026-11-02\"] [UNDO=1]"; exit 2; }
	$(PY) -m grading.records.drop "$(STUDENT)"$(if $(REASON), --reason "$(REASON)")$(if $(UNDO), --undo)

# Score every graded report from the student's scores.json, as the manual grade (ASSIGNMENT=part1 for one part).
rubric: $(STAMP) ## score every report from its scores.json, for the whole class ([ASSIGNMENT=])
	$(PY) -m grading.records.rubric --class $(ASSIGNMENT) --submitted "$(SUBMITTED)"

# Formgrader: JupyterLab in grading/, where nbgrader reads grading/nbgrader_config.py and
# finds the course directory under the server's root; then Nbgrader > Formgrader. Jupyter
# refuses to start as root (a container, a cloud VM) without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
formgrader: $(STAMP) ## JupyterLab in grading/ for manual grading (Nbgrader > Formgrader)
	cd grading && $(abspath $(dir $(PY)))/jupyter lab $(ALLOW_ROOT)

# grading/course/grades.csv from the gradebook (after manual grading in formgrader), and
# the LMS's import files (make lms) when there is a roster.
grades: $(STAMP) ## grading/course/grades.csv from the gradebook, and the LMS files
	$(PY) -m grading.records.gradebook grades
	@if [ -f "$(or $(ROSTER),grading/students.csv)" ]; then $(MAKE) --no-print-directory lms; \
	else echo "no roster ($(or $(ROSTER),grading/students.csv)): no LMS files (make lms)"; fi

# What the LMS imports, from grades.csv (make grades) and the roster's ids: LMS_DIR/
# canvas_grades.csv (Canvas's gradebook import; CANVAS_PART1="Part 1 (12345)" names the
# existing Canvas column, CANVAS_PART2 likewise) and moodle_part1.csv, moodle_part2.csv
# (Moodle grading worksheets; MOODLE_PART1=worksheet.csv fills in the one downloaded from
# Moodle's Part 1 assignment, MOODLE_PART2 likewise). ROSTER defaults to
# grading/students.csv. Fails, after writing all three, when a student is left out.
GRADES ?= grading/course/grades.csv
LMS_DIR ?= grading/course
LMS_ARGS = --grades "$(GRADES)" --roster "$(or $(ROSTER),grading/students.csv)"
lms: $(STAMP) ## Canvas's and Moodle's import files from grades.csv ([ROSTER= CANVAS_PART1= MOODLE_PART1=])
	@status=0; \
	$(PY) -m grading.lms.upload canvas $(LMS_ARGS) --out "$(LMS_DIR)/canvas_grades.csv"$(if $(CANVAS_PART1), --canvas-assignment part1="$(CANVAS_PART1)")$(if $(CANVAS_PART2), --canvas-assignment part2="$(CANVAS_PART2)") || status=1; \
	$(PY) -m grading.lms.upload moodle $(LMS_ARGS) --assignment part1 --out "$(LMS_DIR)/moodle_part1.csv"$(if $(MOODLE_PART1), --worksheet "$(MOODLE_PART1)") || status=1; \
	$(PY) -m grading.lms.upload moodle $(LMS_ARGS) --assignment part2 --out "$(LMS_DIR)/moodle_part2.csv"$(if $(MOODLE_PART2), --worksheet "$(MOODLE_PART2)") || status=1; \
	exit $$status

# What a course uploads to Kaggle (grading/distribute/kaggle/): outputs/kaggle/<assignment>/ (the
# released notebook with a bootstrap cell, kernel-metadata.json), outputs/kaggle/wheels/
# (the kit's wheel and the dependencies Kaggle lacks, downloaded from PyPI) and
# outputs/kaggle/weights/ (FID weights and cascade, hash-checked); FACES=DIR also packs a
# folder of face images into outputs/kaggle/faces/; NO_WEIGHTS=1 builds without the
# weights dataset (where the files cannot be fetched; the kernels still name it).
# Releases first when there is no release yet or a notebook changed since the last one.
kaggle: $(STAMP) ## what a course uploads to Kaggle, in outputs/kaggle (NO_WEIGHTS=1: without the weights)
	@if [ ! -f grading/course/gradebook.db ] || [ -n "$$(find notebooks -name '*.ipynb' -newer grading/course/gradebook.db)" ]; then \
		$(PY) -m grading.distribute.release; fi
	$(PY) -m grading.distribute.kaggle --out outputs/kaggle$(if $(FACES), --faces $(FACES))$(if $(NO_WEIGHTS), --no-weights)

# Kaggle's library versions (KAGGLE_IMAGE in grading/distribute/kaggle/image.py: torch, diffusers,
# transformers, huggingface_hub, IPython, ipykernel, jupyter_client, nbclient, ...) on this
# machine's Python, in $(KAGGLE_VENV): the bootstrap installs the kit into an imitation of
# Kaggle whose image is that environment, both notebooks run there in smoke mode, and
# Part 2 runs with the internet off (fails fast without models, then the offline path).
# Not part of `make test`: torch 2.10 with its CUDA libraries is several GB to download.
KAGGLE_VENV := .venv-kaggle-image
test-kaggle: $(STAMP) ## both notebooks under Kaggle's library versions (downloads several GB)
	$(PY) -m grading.distribute.kaggle.image > $(KAGGLE_VENV).txt
	$(UV) venv --allow-existing --python python3 $(KAGGLE_VENV)
	$(UV) pip install --no-config --python $(KAGGLE_VENV)/bin/python -r $(KAGGLE_VENV).txt ema-pytorch pytest nbval
	COURSEKIT_KAGGLE_IMAGE="$$($(KAGGLE_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
		$(PY) -m pytest tests/test_kaggle.py -m slow -k "bootstrap or smoke_mode or internet_off" -v

bench: $(STAMP) ## speed against the anchor libraries (never part of the tests)
	$(PY) -m benchmarks

lint: $(STAMP) ## ruff check and format check
	$(PY) -m ruff check helpers grading tests benchmarks
	$(PY) -m ruff format --check helpers grading tests benchmarks

# Re-resolve the pins after editing dependencies in pyproject.toml.
lock: ## re-pin after editing pyproject.toml (uv.lock, environment.yml)
	$(UV) lock
	$(PY) -m tests.test_environment --write

# Debian's chromium for tests/test_browser.py, which drives it with Playwright
# (Playwright never downloads a browser of its own here). Without it that test
# skips locally; .ci/run installs it, and there the test fails without it.
CHROMIUM_APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium: ## Debian's chromium for the browser test
	@test -x /usr/bin/chromium || $(SUDO) sh -c '$(CHROMIUM_APT) >/dev/null 2>&1 || { apt-get update -qq && $(CHROMIUM_APT); }'
	@/usr/bin/chromium --version 2>/dev/null

# Debian's bubblewrap: the sandbox every submission is graded in (grading/autograde/sandbox.py);
# tests/test_sandbox.py fails without it under CI and skips elsewhere.
BWRAP_APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends bubblewrap
bubblewrap: ## Debian's bubblewrap, the grading sandbox
	@command -v bwrap >/dev/null || $(SUDO) sh -c '$(BWRAP_APT) >/dev/null 2>&1 || { apt-get update -qq && $(BWRAP_APT); }'
	@bwrap --version

clean: ## remove .venv, outputs and grading/course
	rm -rf $(VENV) outputs .pytest_cache grading/course
