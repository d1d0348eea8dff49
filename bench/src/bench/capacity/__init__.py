"""Capacity baselines: closed-loop saturation figures for the create path and its references.

One run measures, in alternating rounds so ratios are fair on a noisy shared machine: a bare
Flask + gunicorn endpoint inserting one row, the payment service's ``POST /v1/payments``
directly, the same through the gateway (each saturated with 16 connections by vegeta, a Go load
generator: see ``bench.capacity.vegeta`` for why), pgbench single-row inserts, and plain
kafka-python produce and consume. ``run_capacity`` returns a ``CapacityReport``; ``python -m
bench.capacity`` runs it against the local cluster. How to read the figures: bench/CAPACITY.md.
"""

from bench.capacity.report import CapacityReport
from bench.capacity.run import run_capacity

__all__ = ["CapacityReport", "run_capacity"]
