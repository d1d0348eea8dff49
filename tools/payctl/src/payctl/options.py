"""What every command shares: ``--json`` anywhere on the line, and the session it speaks as."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from payctl.session import Session

F = TypeVar("F", bound=Callable[..., Any])
JSON_WANTED = "payctl.json"


def _want_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[JSON_WANTED] = True


def json_option(command: F) -> F:
    """``--json`` for scripts: the API's own JSON instead of a table; root or leaf alike."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_want_json,
        help="Print JSON for scripts instead of a table.",
    )(command)


def session() -> Session:
    ctx = click.get_current_context()
    found = ctx.find_object(Session)
    assert found is not None, "the payctl group makes the session"
    found.json = bool(ctx.meta.get(JSON_WANTED))
    return found
