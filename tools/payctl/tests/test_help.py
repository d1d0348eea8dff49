"""Every payctl command explains itself with --help."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from payctl.cli import cli


def _command_lines(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _command_lines(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(_command_lines(cli))


def test_every_group_of_the_brief_is_there() -> None:
    leaves = {" ".join(line) for line in COMMANDS}
    for wanted in [
        "merchants create",
        "merchants list",
        "keys create",
        "keys list",
        "keys revoke",
        "login",
        "payments create",
        "payments get",
        "payments list",
        "payments refund",
        "payments follow",
        "balances",
        "ledger trial-balance",
        "ledger verify",
        "settlements list",
        "settlements show",
        "settlements csv",
        "settlements run",
        "reconcile",
        "dlq list",
        "dlq show",
        "dlq replay",
    ]:
        assert wanted in leaves


@pytest.mark.parametrize("line", COMMANDS, ids=lambda line: " ".join(line) or "payctl")
def test_help_of(line: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*line, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: {' '.join(('cli', *line))}")
    assert len(result.stdout.splitlines()) > 3
