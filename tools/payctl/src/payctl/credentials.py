"""The merchant's token from ``payctl login``, kept in a file only its owner can read.

The file holds a bearer token, so it is written 0600 or not at all: it is created private in
its directory (itself 0700), its mode is checked after ``fchmod``, and only then does the token
go in and the file replace the old one. A file system that cannot keep the mode gets nothing.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from payctl.errors import PayctlError

PRIVATE = 0o600


@dataclass(frozen=True)
class Login:
    gateway_url: str
    access_token: str
    token_type: str
    expires_at: str

    @property
    def expiry(self) -> datetime:
        return datetime.fromisoformat(self.expires_at)

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.expiry


def save(path: Path, login: Login) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE)
    try:
        try:
            os.fchmod(fd, PRIVATE)
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
        except OSError as error:
            raise PayctlError(
                f"cannot make {path} private (0600): {error}; no token written"
            ) from None
        if mode != PRIVATE:
            raise PayctlError(f"{path} would be mode {mode:04o}, not 0600; no token written")
        os.write(fd, json.dumps(asdict(login), indent=2).encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        partial.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(partial, path)


def load(path: Path) -> Login:
    try:
        data = json.loads(path.read_text())
        return Login(**{field: str(data[field]) for field in Login.__dataclass_fields__})
    except FileNotFoundError:
        raise PayctlError("not logged in: run payctl login") from None
    except (ValueError, KeyError, TypeError) as error:
        raise PayctlError(f"{path} is not a payctl login ({error}): run payctl login") from None
