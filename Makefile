# The maintainer's commands. Each is one line of shell: read it to see what CI and pre-commit run.
PYTHON ?= python3

.PHONY: test test-fast lint format build-check bench test-versions

# The README's test command: the whole suite, end-to-end runs included, one worker per core (at
# most four; tests that share an expensive module fixture stay on one worker: --dist loadgroup).
test:
	$(PYTHON) -m pytest -n auto --dist loadgroup

# Everything but the runs marked slow (nbgrader, Gradescope, the browser, classes, cold children and
# whole CLI runs, the attacks that wait out a limit): about 2.5 minutes on two cores.
test-fast:
	$(PYTHON) -m pytest -n auto --dist loadgroup -m "not slow"

# What .ci/run and the pre-commit hooks check: lint rules, formatting, types. Writes nothing.
lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

# Fix what the linter can fix and reformat (then review the diff).
format:
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

# assignments/ must be what `python -m autograder build` makes of solutions/.
build-check:
	$(PYTHON) -m autograder build --check

# The figures of docs/speed.md in one run (ratios against `import torch`, measured in the same run).
bench:
	$(PYTHON) bench/speed_table.py --repeat 3 --n 8

# The smoke suite (reference, stubs, corpus) in a throw-away venv with the named versions, through
# fork, spawn and portable; updates docs/versions.md. e.g. make test-versions TORCH=2.4.1 NUMPY=2.0.0
test-versions:
	$(PYTHON) bench/test_versions.py --torch $(TORCH) --numpy $(NUMPY) $(if $(PY),--python $(PY)) $(if $(CORPUS),--corpus "$(CORPUS)")
