# The front door. `make up` runs the platform on this machine; `make test` runs every suite on a
# throwaway cluster of its own. Ports and names come from the environment (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never

# uv is installed with pip when missing; `python3 -m uv` works even before the shell sees it.
UV = $(shell command -v uv >/dev/null 2>&1 && echo uv || echo python3 -m uv)
RUN = $(UV) run --frozen --quiet

.PHONY: help uv deps up down status logs token test chaos bench lint format

help:
	@echo "make up      start Kafka, PostgreSQL, Redis, topics and every service (cluster 'dev')"
	@echo "make down    stop everything 'make up' started"
	@echo "make status  what runs, with pids and ports"
	@echo "make logs    the last lines of every log (FOLLOW=1 to follow)"
	@echo "make token   a development JWT (MERCHANT=MER_x; ADMIN=1 for the admin APIs)"
	@echo "make test    unit, integration and end-to-end tests on a throwaway cluster"
	@echo "make chaos   faults drawn from a seed, timed to recovery, then the invariants (SEED=n DURATION=s)"
	@echo "             JOURNEYS=1: every fault in turn first; ROUNDS=5 PAYMENTS=300: broker-crash rounds"
	@echo "             BROKERS=3: one broker of three SIGKILLed under load, the longest pause"
	@echo "make bench   open-loop creates and their pipeline, on cluster 'bench' (started if needed; RATES=25,50 SECONDS=10)"
	@echo "make lint    ruff and mypy"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv

deps: uv
	@$(UV) sync --frozen --quiet

up: deps
	@$(RUN) localcluster up

down: deps
	@$(RUN) localcluster down

status: deps
	@$(RUN) localcluster status

logs: deps
	@$(RUN) localcluster logs $(if $(FOLLOW),--follow)

token: deps
	@$(RUN) localcluster token $(if $(MERCHANT),--merchant $(MERCHANT)) $(if $(ADMIN),--admin)

test: deps
	@bash deploy/local/run-tests.sh $(PYTEST_ARGS)

# BROKERS=3: the broker-loss journey instead, one broker of three SIGKILLed under load.
chaos: deps
ifeq ($(BROKERS),3)
	@$(RUN) python -m localcluster.chaos.broker_loss $(CHAOS_ARGS)
else
	@$(RUN) python -m localcluster.chaos $(if $(ROUNDS),--rounds $(ROUNDS)) \
		$(if $(SEED),--seed $(SEED)) $(if $(DURATION),--duration $(DURATION)) \
		$(if $(JOURNEYS),--journeys) $(if $(PAYMENTS),--payments $(PAYMENTS)) $(CHAOS_ARGS)
endif

# Open-loop creates through the gateway, each rate followed through the pipeline by its events
# (bench/README.md), on cluster PAY_CLUSTER (default `bench`): used as it is when it answers,
# else started for the run with the gateway's write limit raised and stopped after. Tables, and
# JSON and a PNG chart under bench/results.
bench: deps
	@PAY_CLUSTER=$${PAY_CLUSTER:-bench} $(RUN) python -m bench --start-cluster \
		$(if $(RATES),--rates $(RATES)) $(if $(SECONDS),--seconds $(SECONDS))

lint: deps
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy --strict libs/events/src libs/kit/src deploy/local/src services/*/src tools/payctl/src bench/src

format: deps
	$(RUN) ruff format .
	$(RUN) ruff check --fix .
