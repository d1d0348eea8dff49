"""payctl's one kind of failure: a sentence for the person at the terminal, and an exit status."""

from __future__ import annotations

from typing import IO, Any

import click


class PayctlError(click.ClickException):
    """Shown as one ``error: ...`` line on stderr; the command exits 1."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.message}", err=True)


class UsageProblem(PayctlError):
    """Something missing from the command line or its environment (2, as for click's own)."""

    exit_code = 2


class ConfigurationProblem(PayctlError):
    """A malformed ``PAYCTL_*`` variable (78, EX_CONFIG, as the services use)."""

    exit_code = 78


class TimedOut(PayctlError):
    """A wait that ran out of time (124, as timeout(1) uses)."""

    exit_code = 124


def problem_line(status: int, body: Any) -> str:
    """A problem+json answer as a line: title, detail, the stable code and the status.

    Field errors (the ``errors`` member of a validation problem) follow, so a person can see
    which option to correct without ``--json``.
    """
    if not isinstance(body, dict):
        return f"HTTP {status}"
    title = str(body.get("title") or f"HTTP {status}")
    detail = body.get("detail")
    line = f"{title}: {detail}" if detail else title
    code = body.get("code")
    line += f" ({code}, HTTP {status})" if code else f" (HTTP {status})"
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        line += "; " + "; ".join(f"{field}: {_flat(problem)}" for field, problem in errors.items())
    return line


def _flat(problem: Any) -> str:
    if isinstance(problem, list):
        return " ".join(_flat(p) for p in problem)
    if isinstance(problem, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in problem.items())
    return str(problem)
