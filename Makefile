# make lab   : create .venv from requirements.txt, install the course, open JupyterLab
# make test  : create .venv the same way and run the tests (helpers + every notebook, quick mode)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
JOBS   ?= 2

.PHONY: lab test setup lessons benchmark bench-training bench-webcam bench-workshop clean

$(BIN)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(BIN)/.installed

lab: setup
	$(BIN)/jupyter lab lessons/00_welcome.ipynb

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

# lessons 04-05 executed in workshop mode (nbclient) on real FER2013: minutes per notebook, lesson 05's best val accuracy
bench-workshop: setup
	$(BIN)/python benchmarks/bench_workshop.py

clean:
	rm -rf $(VENV) .pytest_cache
