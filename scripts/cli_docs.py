"""Write docs/cli.md: the ``--help`` of every llmkit command and subcommand, as the code prints it.

    python scripts/cli_docs.py            # rewrite docs/cli.md
    python scripts/cli_docs.py --check    # exit 1, with a diff, when docs/cli.md is not what the code prints

The page must not depend on the machine that writes it: the help is rendered at a fixed width,
without colour, with only this repository's plugins (a third-party plugin installed beside llmkit
documents itself), and with trailing spaces cut. Run it after changing any option.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli.md"
WIDTH = 100
HEADER = """\
# Command-line reference

Every `--help` page of `llmkit`, generated from the code by `python scripts/cli_docs.py`; do not
edit it by hand (a test fails when it differs from what the code prints). What the options mean
in depth: the [subcommand pages](commands/), the [JSONL contract](contract.md) and the
[backends](backends.md).
"""


def first_party_plugins() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return sorted(tomllib.load(handle)["project"]["entry-points"]["llmkit.plugins"])


def _command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The root, then every command below it, depth first, in name order."""
    yield path
    for name in sorted(getattr(command, "commands", {}) or {}):
        yield from _command_paths(command.commands[name], (*path, name))  # type: ignore[attr-defined]


def render_help(app: object, path: tuple[str, ...]) -> str:
    """What ``llmkit PATH --help`` prints, at the fixed width, trailing spaces cut."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        app.main(  # type: ignore[attr-defined]
            args=[*path, "--help"], prog_name="llmkit", standalone_mode=False,
            terminal_width=WIDTH, max_content_width=WIDTH,  # the usage line, which click wraps itself
        )
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def build_page() -> str:
    os.environ["LLMKIT_PLUGINS"] = ",".join(first_party_plugins())  # read when the plugins are found
    import typer.rich_utils

    typer.rich_utils.MAX_WIDTH = WIDTH  # read when each help is drawn
    typer.rich_utils.FORCE_TERMINAL = False
    typer.rich_utils.COLOR_SYSTEM = None
    from llmkit.cli import build_app

    app = build_app()
    sections = [HEADER]
    for path in _command_paths(app):
        title = " ".join(("llmkit", *path))
        sections.append(f"## {title}\n\n```text\n{render_help(app, path)}```\n")
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/cli.md instead of writing it")
    args = parser.parse_args(argv)
    page = build_page()
    if not args.check:
        PAGE.write_text(page, encoding="utf-8")
        return 0
    current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if current == page:
        return 0
    diff = difflib.unified_diff(current.splitlines(True), page.splitlines(True), "docs/cli.md", "the code's --help")
    sys.stderr.writelines(diff)
    print("docs/cli.md is stale: run `python scripts/cli_docs.py`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
