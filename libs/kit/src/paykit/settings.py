"""Typed reads of environment variables, for building one frozen settings object per process.

Each variable is read in one line and a missing or malformed value stops start-up with a message
that names the variable, so a bad deploy fails at once instead of on the first request that needs
the value. Secrets come back wrapped, so a printed or logged settings object never shows them.

    def load(environ: Mapping[str, str]) -> PaymentSettings:
        return load_settings(_build, environ)

    def _build(env: Env) -> PaymentSettings:
        return PaymentSettings(
            database_url=env.secret("PAYMENT_DATABASE_URL"),
            pool_size=env.int("PAYMENT_DB_POOL_SIZE", default=5, min=1),
        )
"""

import builtins
import enum
import hmac
import math
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Final, TypeVar, overload

_MASK: Final = "**********"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})

T = TypeVar("T")
D = TypeVar("D")


class _Missing(enum.Enum):
    MISSING = enum.auto()


_MISSING: Final = _Missing.MISSING


class Secret:
    """A configuration value that must not be shown: repr and str are masked, reading is explicit.

    Equality is constant-time so comparing a presented credential with a configured one does not
    leak how much of it matched.
    """

    __slots__ = ("_value",)

    def __init__(self, value: builtins.str) -> None:
        self._value = value

    def reveal(self) -> builtins.str:
        return self._value

    def __repr__(self) -> builtins.str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> builtins.str:
        return _MASK

    def __eq__(self, other: object) -> builtins.bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> builtins.int:
        return hash((Secret, self._value))


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One variable and what is wrong with it; never its value when the value is secret."""

    variable: builtins.str
    problem: builtins.str

    def __str__(self) -> builtins.str:
        return f"{self.variable}: {self.problem}"


class ConfigError(Exception):
    """Configuration that cannot start the process; lists every variable found wrong."""

    def __init__(self, *problems: ConfigProblem) -> None:
        if not problems:
            raise ValueError("a ConfigError needs at least one problem")
        self.problems: tuple[ConfigProblem, ...] = problems
        lines = "; ".join(str(problem) for problem in self.problems)
        super().__init__(f"invalid configuration: {lines}")

    @property
    def variables(self) -> tuple[builtins.str, ...]:
        return tuple(problem.variable for problem in self.problems)


class Env:
    """Reads typed values from an environment mapping.

    By default the first bad variable raises `ConfigError`. With `collect_problems=True` (what
    `load_settings` uses) bad variables are recorded and a stand-in value is returned, so one
    start-up reports every problem at once instead of one per restart.

    An empty value counts as unset: compose files and manifests often carry blank placeholders.
    """

    def __init__(self, environ: Mapping[str, str], *, collect_problems: bool = False) -> None:
        self._environ = environ
        self._collect = collect_problems
        self._problems: list[ConfigProblem] = []

    @property
    def problems(self) -> tuple[ConfigProblem, ...]:
        return tuple(self._problems)

    def raise_for_problems(self) -> None:
        if self._problems:
            raise ConfigError(*self._problems)

    @overload
    def str(
        self, name: builtins.str, *, choices: Collection[builtins.str] | None = None
    ) -> builtins.str: ...
    @overload
    def str(
        self, name: builtins.str, default: D, *, choices: Collection[builtins.str] | None = None
    ) -> builtins.str | D: ...
    def str(
        self,
        name: builtins.str,
        default: object = _MISSING,
        *,
        choices: Collection[builtins.str] | None = None,
    ) -> object:
        raw = self._raw(name)
        if raw is None:
            return self._absent(name, default, "")
        value = raw.strip()
        if choices is not None and value not in choices:
            allowed = ", ".join(sorted(choices))
            return self._bad(name, f"must be one of {allowed}; got {value!r}", default, value)
        return value

    @overload
    def int(
        self,
        name: builtins.str,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> builtins.int: ...
    @overload
    def int(
        self,
        name: builtins.str,
        default: D,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> builtins.int | D: ...
    def int(
        self,
        name: builtins.str,
        default: object = _MISSING,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> object:
        stand_in = min if min is not None else 0
        raw = self._raw(name)
        if raw is None:
            return self._absent(name, default, stand_in)
        try:
            value = builtins.int(raw.strip(), 10)
        except ValueError:
            return self._bad(name, f"must be a whole number; got {raw!r}", default, stand_in)
        if min is not None and value < min:
            return self._bad(name, f"must be at least {min}; got {value}", default, stand_in)
        if max is not None and value > max:
            return self._bad(name, f"must be at most {max}; got {value}", default, stand_in)
        return value

    @overload
    def bool(self, name: builtins.str) -> builtins.bool: ...
    @overload
    def bool(self, name: builtins.str, default: D) -> builtins.bool | D: ...
    def bool(self, name: builtins.str, default: object = _MISSING) -> object:
        raw = self._raw(name)
        if raw is None:
            return self._absent(name, default, False)
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        problem = f"must be one of true/false, yes/no, on/off, 1/0; got {raw!r}"
        return self._bad(name, problem, default, False)

    @overload
    def list(
        self, name: builtins.str, *, separator: builtins.str = ","
    ) -> tuple[builtins.str, ...]: ...
    @overload
    def list(
        self, name: builtins.str, default: D, *, separator: builtins.str = ","
    ) -> tuple[builtins.str, ...] | D: ...
    def list(
        self, name: builtins.str, default: object = _MISSING, *, separator: builtins.str = ","
    ) -> object:
        """Separated items, stripped, blanks dropped; a tuple so settings stay immutable."""
        raw = self._raw(name)
        items = () if raw is None else tuple(i.strip() for i in raw.split(separator) if i.strip())
        if not items:
            return self._absent(name, default, ())
        return items

    def delays(
        self, name: builtins.str, *, at_most: builtins.int
    ) -> tuple[builtins.float, ...] | None:
        """Retry delays in seconds, e.g. ``1,2,4``; None when unset (use the catalogue's).

        ``at_most`` is how many retry tiers exist: a longer list would route to a topic that
        was never created.
        """
        items = self.list(name, ())
        if not items:
            return None
        try:
            delays = tuple(builtins.float(item) for item in items)
        except ValueError:
            delays = ()
        if not delays or not all(math.isfinite(d) and d > 0 for d in delays):
            self._fail(name, f"must be positive seconds separated by commas; got {items}", None)
            return None
        if len(delays) > at_most:
            tiers = f"names {len(delays)} retry tiers; the topic catalogue creates {at_most}"
            self._fail(name, tiers, None)
            return None
        return delays

    @overload
    def secret(self, name: builtins.str) -> Secret: ...
    @overload
    def secret(self, name: builtins.str, default: D) -> Secret | D: ...
    def secret(self, name: builtins.str, default: object = _MISSING) -> object:
        """The raw value, unstripped: whitespace may be part of a secret."""
        raw = self._raw(name)
        if raw is None:
            return self._absent(name, default, Secret(""))
        return Secret(raw)

    @overload
    def secret_list(
        self, name: builtins.str, *, separator: builtins.str = ","
    ) -> tuple[Secret, ...]: ...
    @overload
    def secret_list(
        self, name: builtins.str, default: D, *, separator: builtins.str = ","
    ) -> tuple[Secret, ...] | D: ...
    def secret_list(
        self, name: builtins.str, default: object = _MISSING, *, separator: builtins.str = ","
    ) -> object:
        """Several secrets in one variable, e.g. the active webhook secrets during a rotation."""
        raw = self._raw(name)
        items = () if raw is None else tuple(Secret(i) for i in raw.split(separator) if i.strip())
        if not items:
            return self._absent(name, default, ())
        return items

    def signing_secrets(self, name: builtins.str, *, min_bytes: builtins.int) -> tuple[Secret, ...]:
        """Required HMAC secrets (several during a rotation), each stripped and long enough.

        A trailing newline from a secret store would otherwise become part of the key and fail
        every signature; a short key can be brute-forced offline from one captured message.
        """
        secrets = tuple(Secret(s.reveal().strip()) for s in self.secret_list(name))
        short = [n for n, s in enumerate(secrets, start=1) if len(s.reveal().encode()) < min_bytes]
        if short:
            which = ", ".join(map(builtins.str, short))
            problem = f"each secret must be at least {min_bytes} bytes once trimmed"
            self._fail(name, f"{problem}; too short: no. {which} of {len(secrets)}", None)
        return secrets

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self._environ.get(name)
        return value if value is not None and value.strip() else None

    def _absent(self, name: builtins.str, default: object, stand_in: object) -> object:
        if default is not _MISSING:
            return default
        return self._fail(name, "is required but not set", stand_in)

    def _bad(
        self, name: builtins.str, problem: builtins.str, default: object, stand_in: object
    ) -> object:
        return self._fail(name, problem, default if default is not _MISSING else stand_in)

    def _fail(self, name: builtins.str, problem: builtins.str, stand_in: object) -> object:
        found = ConfigProblem(name, problem)
        if not self._collect:
            raise ConfigError(found)
        self._problems.append(found)
        return stand_in


def load_settings(build: Callable[[Env], T], environ: Mapping[str, str] | None = None) -> T:
    """Build settings with `build`, reporting every bad variable in one `ConfigError`.

    If `build` trips over a stand-in value (say a validation in `__post_init__`), the variables
    already found wrong are what the operator needs to see, so they win over that error.
    """
    env = Env(os.environ if environ is None else environ, collect_problems=True)
    try:
        settings = build(env)
    except ConfigError as error:
        raise ConfigError(*env.problems, *error.problems) from None
    except Exception:
        if env.problems:
            raise ConfigError(*env.problems) from None
        raise
    env.raise_for_problems()
    return settings
