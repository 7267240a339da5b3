"""The README's option names are checked against the command tree, so that the docs cannot drift.

Each `## \\`COMMAND\\`` section may only name options that COMMAND (or one of its subcommands) has;
the other sections may name any option of any command. Flags of other programs (pip, vllm serve,
pylint) are listed where they appear; a benchmark's flags (`python benchmarks/x.py --flag`) are
checked against that script.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest

from llmkit.cli import build_app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BENCHMARK = re.compile(r"`python (benchmarks/[\w.]+)([^`]*)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
FOREIGN = {"--help", "--host", "--port", "--rcfile", "--rm", "--head", "--address"}  # click's own, vllm serve, pylint, docker, ray start


def _options(command: click.Command) -> set[str]:
    names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    for sub in getattr(command, "commands", {}).values():
        names |= _options(sub)
    return {name for name in names if name.startswith("--")}


def _sections() -> dict[str, str]:
    """Top-level README sections by title."""
    parts = re.split(r"^## (.+)$", README.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


@pytest.fixture(scope="module")
def tree() -> click.Group:
    return build_app()


def test_every_option_the_readme_names_exists(tree):
    everything = _options(tree) | FOREIGN
    unknown = {}
    for title, body in _sections().items():
        named = re.match(r"`([a-z0-9-]+)`", title)
        allowed = _options(tree.commands[named.group(1)]) | FOREIGN if named else everything
        missing = sorted(set(OPTION.findall(BENCHMARK.sub("", body))) - allowed)
        if missing:
            unknown[title] = missing
    assert not unknown, f"README names options its commands do not have: {unknown}"


def test_every_subcommand_has_a_readme_section():
    """Every subcommand this repository registers (a third-party plugin installed beside it is
    documented by its own package, not here)."""
    titled = {m.group(1) for title in _sections() if (m := re.match(r"`([a-z0-9-]+)`", title))}
    with open(ROOT / "pyproject.toml", "rb") as handle:
        first_party = set(tomllib.load(handle)["project"]["entry-points"]["llmkit.plugins"])
    assert first_party <= titled, sorted(first_party - titled)


def test_benchmark_flags_the_readme_names_exist():
    for script, flags in BENCHMARK.findall(README.read_text(encoding="utf-8")):
        source = (ROOT / script).read_text(encoding="utf-8")
        for flag in OPTION.findall(flags):
            assert f'"{flag}"' in source, f"README: {script} has no flag {flag}"
