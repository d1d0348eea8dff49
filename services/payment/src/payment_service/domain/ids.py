"""Ids merchants see: a prefix and letters and digits only, so a double click selects all of it.

24 characters from 62 carry about 143 bits, more than the 128 of a random UUID. Ids made before
this rule (with ``-`` and ``_``) stay valid, so lookups accept both shapes.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Final

ALPHABET: Final = string.ascii_letters + string.digits
RANDOM_LENGTH: Final = 24
PAYMENT_PREFIX: Final = "PAY_"
REFUND_PREFIX: Final = "RFD_"
# What a lookup accepts: today's ids and the older url-safe ones. Anything else is no id of ours.
PAYMENT_ID: Final = re.compile(r"PAY_[A-Za-z0-9_-]{1,60}")
REFUND_ID: Final = re.compile(r"RFD_[A-Za-z0-9_-]{1,60}")


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def new_payment_id() -> str:
    return _new_id(PAYMENT_PREFIX)


def new_refund_id() -> str:
    return _new_id(REFUND_PREFIX)


def is_payment_id(value: str) -> bool:
    return PAYMENT_ID.fullmatch(value) is not None
