"""What a command prints: aligned tables and ``key  value`` lines for people, JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Columns as wide as their widest cell; a header in capitals; ``(none)`` for no rows."""
    if not rows:
        return "(none)"
    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)
    ]
    lines = [[c.upper() for c in columns], *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def fields(record: Mapping[str, Any], keys: Sequence[str] | None = None) -> str:
    shown = keys or [k for k, v in record.items() if not isinstance(v, list)]
    width = max(len(k) for k in shown)
    return "\n".join(f"{key.ljust(width)}  {cell(record.get(key))}" for key in shown)


def emit(json_wanted: bool, data: Any, human: str) -> None:
    click.echo(as_json(data) if json_wanted else human)


def rows_of(listing: Any) -> list[dict[str, Any]]:
    """A list answer's rows, whether the API answers ``{"data": [...]}`` or a bare list."""
    if isinstance(listing, dict):
        return list(listing.get("data") or [])
    return list(listing or [])


def page(listing: Any, columns: Sequence[str]) -> str:
    """One page of a cursor-paged list, and the option that shows the next, if there is one."""
    shown = table(rows_of(listing), columns)
    following = listing.get("next_cursor") if isinstance(listing, dict) else None
    return f"{shown}\nmore: --cursor {following}" if following else shown


def columns_of(rows: Sequence[Mapping[str, Any]], first: Sequence[str]) -> list[str]:
    """``first`` (those present), then every other plain field the rows carry, in order seen.

    For answers whose shape payctl does not fix (the gateway's merchants and keys), so a new
    field shows up without a payctl release.
    """
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if not isinstance(value, dict | list):
                seen.setdefault(key)
    return [k for k in first if k in seen] + [k for k in seen if k not in first]
