"""`--help` shows a value placeholder only for options that take a value."""

from __future__ import annotations

import re

import pytest
import typer.rich_utils

from llmkit.cli import run


@pytest.fixture
def wide_help(monkeypatch):
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 200)  # one option per line, no wrapping
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", False)


def _help(capsys, *path: str) -> dict[str, str]:
    """The help's option rows, keyed by their first option name."""
    assert run([*path, "--help"]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        if match := re.match(r"│ (?:\* )?(--[a-z-]+)(.*?)│?$", line):
            rows[match.group(1)] = match.group(2)
    return rows


def test_flags_of_the_root_show_no_placeholder(wide_help, capsys):
    rows = _help(capsys)
    assert rows["--version"].split() == ["Show", "the", "version", "and", "exit."]
    assert rows["--help"].split() == ["Show", "this", "message", "and", "exit."]


def test_flags_of_a_subcommand_show_no_placeholder_and_values_keep_theirs(wide_help, capsys):
    rows = _help(capsys, "rewrite-code")
    assert "<bool>" not in "".join(rows.values())
    assert rows["--quiet"].split()[:2] == ["-q", "No"]             # short name, then the help
    assert rows["--resume"].split()[:2] == ["--no-resume", "Skip"]  # a pair: both names, no type
    assert "<int range>" in rows["--limit"]                              # an option with a value keeps it
