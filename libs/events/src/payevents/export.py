"""Write (or, with --check, verify) the committed JSON Schema documents.

Usage: python -m payevents.export [--check] [--out DIR]

The documents are committed so that reviewers see a contract change as a diff; ``--check`` lets
CI fail when someone changed a schema but did not regenerate them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from payevents.jsonschema_export import render_exports
from payevents.registry import EventRegistry
from payevents.schemas import REGISTRY

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "schemas"


def stale_exports(out_dir: Path, registry: EventRegistry = REGISTRY) -> list[str]:
    """Describe every difference between the committed documents and freshly generated ones."""
    expected = render_exports(registry)
    problems: list[str] = []
    for relative, text in sorted(expected.items()):
        path = out_dir / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"stale: {relative}")
    problems.extend(f"extra: {relative}" for relative in _extra_files(out_dir, expected))
    return problems


def write_exports(out_dir: Path, registry: EventRegistry = REGISTRY) -> list[str]:
    """Bring ``out_dir`` in line with the registry; return the paths that changed."""
    expected = render_exports(registry)
    changed: list[str] = []
    for relative, text in sorted(expected.items()):
        path = out_dir / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(relative)
    for relative in _extra_files(out_dir, expected):
        (out_dir / relative).unlink()
        changed.append(relative)
    for directory in sorted(out_dir.glob("*/"), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    return changed


def _extra_files(out_dir: Path, expected: dict[str, str]) -> list[str]:
    if not out_dir.is_dir():
        return []
    # Only files shaped like exports, so a mistaken --out never deletes unrelated JSON.
    present = (path.relative_to(out_dir).as_posix() for path in out_dir.glob("*/v*.json"))
    return sorted(relative for relative in present if relative not in expected)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m payevents.export", description="Export event schemas as JSON Schema."
    )
    parser.add_argument("--check", action="store_true", help="fail if the export is not fresh")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT, help="schemas folder")
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    if args.check:
        problems = stale_exports(out_dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m payevents.export", file=sys.stderr)
            return 1
        return 0
    for relative in write_exports(out_dir):
        print(f"wrote: {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
