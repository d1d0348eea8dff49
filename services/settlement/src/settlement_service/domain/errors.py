"""The settlement service's domain errors; the API maps each to a problem with its code."""

from __future__ import annotations


class SettlementError(Exception):
    code = "settlement_error"


class BatchNotFound(SettlementError):
    code = "batch_not_found"


class IllegalTransition(SettlementError):
    code = "illegal_transition"


class CutoffInFuture(SettlementError):
    code = "cutoff_in_future"
