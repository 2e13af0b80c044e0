# make lab   : create .venv from requirements.txt, install the course, open JupyterLab on the
#              repository (lessons/00_welcome.ipynb first; solutions/, README, data/MODEL_CARD.md too)
# make test  : create .venv the same way and run the tests (helpers + every notebook, quick mode)
# make render: execute every solution (full mode; MODE=workshop for less) into rendered/*.html (git-ignored: faces)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
JOBS   ?= 2
MODE   ?= full

.PHONY: lab test setup lessons benchmark bench-training bench-webcam bench-workshop bench-grading render clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(BIN)/.installed

# Root (containers, cloud VMs, classroom images) needs --allow-root; a normal user does not.
ALLOW_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root,)

# Extra options for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port 8890"
LAB_ARGS ?=

lab: setup
	$(BIN)/jupyter lab $(ALLOW_ROOT) --ServerApp.root_dir="$(CURDIR)" $(LAB_ARGS) lessons/00_welcome.ipynb

test: setup
	FER_QUICK=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadfile

lessons: setup
	$(BIN)/python tools/make_lessons.py

benchmark: setup
	$(BIN)/python benchmarks/bench_loading.py

bench-training: setup
	$(BIN)/python benchmarks/bench_training.py

bench-webcam: setup
	$(BIN)/python benchmarks/bench_webcam.py

render: setup
	$(BIN)/python tools/render.py --mode $(MODE) --out rendered

# lessons 04-05 executed in workshop mode (nbclient) on real FER2013: minutes per notebook, lesson 05's best val accuracy
bench-workshop: setup
	$(BIN)/python benchmarks/bench_workshop.py

# 30 copies of lesson 02 (answered, blank, wrong, broken) graded with --jobs 2: seconds per notebook, load average
bench-grading: setup
	$(BIN)/python benchmarks/bench_grading.py --figure instructors/grades_summary.png

clean:
	rm -rf $(VENV) .pytest_cache
