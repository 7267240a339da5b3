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


# A docstring wrapped at about 60 columns, as an editor leaves it: its paragraphs must fill the
# terminal, its list must keep one item a line.
TOOL_DOC = """Count the words of each record's text, and keep the records that have enough
of them for the next stage.

The count splits on white space, so a word is whatever stands between two
spaces; punctuation stays with the word it touches, and numbers count as
words as well.

Reject reasons:
- empty: no text at all
- too_short: fewer words than --min-words
"""
PARAGRAPH = " ".join(TOOL_DOC.split("\n\n")[1].split())
ITEMS = ["- empty: no text at all", "- too_short: fewer words than --min-words"]


def _tool_plugin():
    from llmkit.plugins import PluginInfo

    app = typer.Typer()

    @app.command("count")
    def count(min_words: int = 1) -> None:
        pass

    @app.command("other")
    def other() -> None:
        """Another command, so that the group lists its commands."""

    count.__doc__ = TOOL_DOC
    return [PluginInfo("words", "tests", "0", "", obj=app)]


def _help_lines(capsys, monkeypatch, columns: int, *path: str) -> list[str]:
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", None)  # the terminal's width, from COLUMNS
    monkeypatch.setattr(typer.rich_utils, "FORCE_TERMINAL", False)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert run([*path, "--help"], plugins=_tool_plugin()) == 0
    return [line.strip(" │") for line in capsys.readouterr().out.splitlines()]


def _paragraph_lines(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("The count splits"))
    end = next(i for i in range(start, len(lines)) if not lines[i])
    return lines[start:end]


def test_a_paragraph_fills_a_wide_terminal_on_one_line_and_the_list_keeps_its_items(capsys, monkeypatch):
    lines = _help_lines(capsys, monkeypatch, 200, "words", "count")
    assert _paragraph_lines(lines) == [PARAGRAPH]
    assert "Count the words of each record's text, and keep the records that have enough of them for the next stage." in lines
    assert lines[lines.index("Reject reasons:") + 1 :][:2] == ITEMS


def test_a_paragraph_is_filled_to_a_narrow_terminal_and_the_list_keeps_its_items(capsys, monkeypatch):
    columns = 50
    lines = _help_lines(capsys, monkeypatch, columns, "words", "count")
    paragraph = _paragraph_lines(lines)
    assert " ".join(paragraph) == PARAGRAPH and len(paragraph) > 1
    for line, following in zip(paragraph, paragraph[1:]):
        # each line holds all it can: the next line's first word would not have fitted (the help
        # is drawn one column in from each side)
        assert len(line) <= columns - 2 < len(line) + 1 + len(following.split()[0]), (line, following)
    assert lines[lines.index("Reject reasons:") + 1 :][:2] == ITEMS


def test_a_groups_command_list_shows_a_first_paragraph_as_one_line(capsys, monkeypatch):
    lines = _help_lines(capsys, monkeypatch, 200, "words")
    [row] = [line for line in lines if line.startswith("count ")]
    assert row.split() == "count Count the words of each record's text, and keep the records that have enough of them for the next stage.".split()


def test_reflow_keeps_what_is_laid_out_on_purpose():
    from llmkit.help_format import reflow

    text = """Steps, in order:
    1. read
    2) write

    \b
    a table
    kept as drawn

    Example:
        llmkit words count
          -i in.jsonl
    then more
    prose.
    \f
    hidden
    lines"""
    assert reflow(text) == (
        "Steps, in order:\n1. read\n2) write\n\n\b\na table\nkept as drawn\n\n"
        "Example:\n    llmkit words count\n      -i in.jsonl\nthen more prose.\n    \f\n    hidden\n    lines"
    )
