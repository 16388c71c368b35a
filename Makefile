# The commands a person needs. Each creates .venv and installs what it needs on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# pytest-xdist workers for the default suite; tests that share a model or server stay on one (xdist_group)
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadgroup
PYTHON ?= python3

.PHONY: demo test test-fast test-slow fuzz lint format bench gpu-check data planner-data planner planner-bench install install-dev clean

$(VENV)/.installed: pyproject.toml scripts/install.sh scripts/constraints.txt
	bash scripts/install.sh $(VENV)
	touch $@

# dev is a superset of the plain install: one install pass, both stamps
$(VENV)/.installed-dev: pyproject.toml scripts/install.sh scripts/constraints.txt examples/plugin_example/pyproject.toml
	bash scripts/install.sh $(VENV) dev
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install data  ## run the example metaprogram (digits + MLP), print its test metrics
	$(PY) -B run_metaprogram.py --config-name=metaprogram/example

test: install-dev data  ## the default suite, what CI runs: unit and integration tiers (no slow tests)
	$(PY) -m pytest -m "not slow" $(XDIST) --durations=12 $(PYTEST_ARGS)  # the slowest 12: where the time goes

test-fast: install-dev data  ## the unit tier: no Ray, no subprocesses, no LLMs (under a minute)
	$(PY) -m pytest -m "not slow and not integration" $(XDIST) $(PYTEST_ARGS)

fuzz: install-dev  ## the fuzz tier at length: hostile YAML and command lines, new random examples each run
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-3000} FUZZ_RANDOM=1 $(PY) -m pytest unit_test/test_fuzz.py $(PYTEST_ARGS)

test-slow: install-dev data  ## the long real-model tests (SmolLM2, long sweeps)
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install data  ## every benchmark in benchmarks/ (each prints its figures last); names the ones that failed
	@failed=""; for b in benchmarks/[a-z]*.py; do echo "== $$b"; $(PY) -B $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

gpu-check: install data  ## every GPU path in a few minutes, one figure each (benchmarks/gpu_check.py); without CUDA it says so and exits 0
	$(PY) -B benchmarks/gpu_check.py

data:  ## unpack the evaluation data shipped in data/ (HellaSwag, GSM8K); standard library only, no venv needed
	$(PYTHON) -B scripts/unpack_data.py

planner-data: install  ## the planner's data: Ray Tune studies over configs/sweep/suite/train.yaml, exported as JSONL
	PYTHON=$(PY) bash generate_ray_tune_data.sh train

# The shipped planner (planner/shipped/) from nothing. Economical on 2 CPUs: every 2nd study of the corpus suite
# (554 studies) and 2,000 training steps; PLANNER_STRIDE=1 PLANNER_STEPS=3000 for the whole corpus.
PLANNER_STRIDE ?= 2
PLANNER_STEPS ?= 2000
planner: install  ## rebuild the shipped planner: corpus of Ray Tune studies, training, planner/shipped (held-out figures last)
	PYTHON=$(PY) OUT=outputs/studies_corpus.jsonl bash generate_ray_tune_data.sh corpus --stride $(PLANNER_STRIDE)
	$(PY) -B -m planner.train --studies outputs/studies_corpus.jsonl --out outputs/planner/ckpt_corpus \
		--steps $(PLANNER_STEPS) --max-minutes 20
	$(PY) -B -m planner.ship --checkpoint outputs/planner/ckpt_corpus --corpus outputs/studies_corpus.jsonl \
		--command "make planner PLANNER_STRIDE=$(PLANNER_STRIDE) PLANNER_STEPS=$(PLANNER_STEPS)"

planner-bench: install  ## the shipped planner against random, TPE, multivariate TPE, GP and the portfolio in real Tune studies
	$(PY) -B benchmarks/planner.py --real --seeds 5

clean:
	rm -rf $(VENV) outputs .cache .pytest_cache
