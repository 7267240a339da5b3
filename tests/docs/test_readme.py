"""The README and docs/ are checked against the command tree, so that the docs cannot drift.

A subcommand's page (`docs/commands/NAME.md`) may only name options that NAME (or one of its
subcommands) has, or a command it quotes (`llmkit tiny-model --arch ...`); the other pages may name any option of any command. Flags of other programs
(pip, vllm serve, pylint) are listed where they appear; a benchmark's flags (`python
benchmarks/x.py --flag`) are checked against that script. The README's table lists every
subcommand, and every relative link of the docs leads to a file (and a heading) that exists.
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
DOCS = ROOT / "docs"
COMMANDS = DOCS / "commands"
BENCHMARK = re.compile(r"`python (benchmarks/[\w.]+)([^`]*)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FOREIGN = {"--help", "--host", "--port", "--rcfile", "--rm", "--head", "--address", "--no-deps"}  # click's own, vllm serve, pylint, docker, ray start, pip
#: options a page names that no llmkit command has: the plugin guide's example plugin, and the
#: naming rule it states (`--x/--no-x`)
PAGE_OWN = {"plugins.md": {"--min-words", "--x", "--no-x"}}


def _options(command: click.Command) -> set[str]:
    names = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
    for sub in getattr(command, "commands", {}).values():
        names |= _options(sub)
    return {name for name in names if name.startswith("--")}


def _written_pages() -> list[Path]:
    """Every page a person writes (docs/cli.md is generated from the code, and checked apart)."""
    return [README, *sorted(p for p in DOCS.rglob("*.md") if p.name != "cli.md" or p.parent != DOCS)]


def _built_in() -> set[str]:
    """The core's own commands (not entry points): those of the app built with no plugin, so a
    new built-in command cannot be left out of the README's table or go without a page."""
    from llmkit.cli import build_app

    return set(build_app(plugins=[]).commands)


def _first_party() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return set(tomllib.load(handle)["project"]["entry-points"]["llmkit.plugins"])


def _readme_table() -> dict[str, list[str]]:
    """The README's subcommand table: name -> the subcommands of its own it lists."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| \[`([a-z0-9-]+)`\]\(docs/commands/\1\.md\) \|.*\|(.*)\|$", line):
            rows[match.group(1)] = re.findall(r"`([a-z0-9-]+)`", match.group(2))
    return rows


@pytest.fixture(scope="module")
def tree() -> click.Group:
    return build_app()


def test_every_option_the_docs_name_exists(tree):
    everything = _options(tree) | FOREIGN
    unknown = {}
    for page in _written_pages():
        text = BENCHMARK.sub("", page.read_text(encoding="utf-8"))
        allowed = everything
        if page.parent == COMMANDS and page.stem in tree.commands:
            # its own command's options, and those of the commands it quotes (`llmkit tiny-model ...`)
            quoted = set(re.findall(r"\bllmkit ([a-z][a-z0-9-]*)", text)) & set(tree.commands)
            allowed = FOREIGN.union(*(_options(tree.commands[name]) for name in {page.stem} | quoted))
        if missing := sorted(set(OPTION.findall(text)) - allowed - PAGE_OWN.get(page.name, set())):
            unknown[str(page.relative_to(ROOT))] = missing
    assert not unknown, f"the docs name options their commands do not have: {unknown}"


def test_every_subcommand_has_a_page_and_no_page_lacks_a_subcommand(tree):
    """Every subcommand this repository registers (a third-party plugin installed beside it is
    documented by its own package, not here)."""
    pages = {page.stem for page in COMMANDS.glob("*.md")}
    assert _first_party() | _built_in() <= pages, sorted(_first_party() | _built_in() - pages)
    assert pages <= set(tree.commands), sorted(pages - set(tree.commands))


def test_the_readme_table_lists_every_subcommand_with_its_own(tree):
    table = _readme_table()
    assert set(table) == _first_party() | _built_in()
    for name, listed in table.items():
        assert sorted(listed) == sorted(getattr(tree.commands[name], "commands", {})), name


def test_the_readme_is_a_front_page():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_benchmark_flags_the_docs_name_exist():
    for page in _written_pages():
        for script, flags in BENCHMARK.findall(page.read_text(encoding="utf-8")):
            source = (ROOT / script).read_text(encoding="utf-8")
            for flag in OPTION.findall(flags):
                assert f'"{flag}"' in source, f"{page.name}: {script} has no flag {flag}"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_leads_somewhere():
    broken = []
    for page in [*_written_pages(), DOCS / "cli.md"]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists() or (anchor and resolved.is_file() and anchor not in _anchors(resolved)):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_the_guide_lists_every_public_name():
    """The plugin guide's table of the three public modules names exactly their `__all__`."""
    import importlib

    guide = (DOCS / "plugins.md").read_text(encoding="utf-8")
    for module in ("llmkit", "llmkit.backends", "llmkit.testing"):
        row = re.search(rf"^\| `{re.escape(module)}` \|[^|]*\|(.*)\|$", guide, flags=re.M)
        assert row, f"docs/plugins.md: no row for {module}"
        listed = set(re.findall(r"`(\w+)`", row.group(1)))
        public = set(importlib.import_module(module).__all__) - {"__version__"}
        assert listed == public, f"{module}: not in the guide {sorted(public - listed)}, not public {sorted(listed - public)}"
