"""Which database failures retry, which dead-letter, which mean the database is gone."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from psycopg_pool import PoolTimeout

from paykit.consumer import InvalidMessage, RetryableError, TransactionAborted
from paykit.consumer.taxonomy import Disposition, classify

D = Disposition


@pytest.mark.parametrize(
    ("error", "disposition"),
    [
        (errors.DeadlockDetected(), D.RETRY_IN_PLACE),
        (errors.SerializationFailure(), D.RETRY_IN_PLACE),
        (errors.LockNotAvailable(), D.RETRY_IN_PLACE),
        (errors.QueryCanceled(), D.RETRY_IN_PLACE),
        (errors.TooManyConnections(), D.RETRY_IN_PLACE),
        (errors.DivisionByZero(), D.DEAD_LETTER),
        (errors.UniqueViolation(), D.DEAD_LETTER),
        (errors.UndefinedColumn(), D.DEAD_LETTER),
        (errors.FeatureNotSupported(), D.DEAD_LETTER),
        (
            psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
            D.DEAD_LETTER,
        ),
        (errors.AdminShutdown(), D.DATABASE_LOST),
        (errors.ConnectionFailure(), D.DATABASE_LOST),
        (
            psycopg.OperationalError("consuming input failed: server closed the connection"),
            D.DATABASE_LOST,
        ),
        (psycopg.InterfaceError("the connection is closed"), D.DATABASE_LOST),
        (PoolTimeout("couldn't get a connection after 10.00 sec"), D.DATABASE_LOST),
        (errors.InFailedSqlTransaction(), D.RETRY_LATER),
        (InvalidMessage("no such payment"), D.DEAD_LETTER),
        (RetryableError("PSP timed out"), D.RETRY_LATER),
        (TransactionAborted("caught without a savepoint"), D.RETRY_LATER),
        (KeyError("amount"), D.RETRY_LATER),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_failure_has_its_place(error: Exception, disposition: Disposition) -> None:
    assert classify(error) is disposition
