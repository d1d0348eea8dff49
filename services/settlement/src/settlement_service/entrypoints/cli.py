"""``uv run settlement <command>``: the settlement service's operator commands.

uv run settlement reconcile --from 2026-11-30T00:00:00Z --to 2026-12-01T00:00:00Z
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from settlement_service.entrypoints import reconcile_cli

COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {"reconcile": reconcile_cli.main}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        print(f"usage: settlement {{{'|'.join(COMMANDS)}}} [--help]", file=sys.stderr)
        return 2
    return COMMANDS[args[0]](args[1:])


if __name__ == "__main__":
    sys.exit(main())
