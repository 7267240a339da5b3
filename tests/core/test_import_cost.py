"""What `llmkit --help` and every subcommand's `--help` import: typer, rich, orjson and the core (and
the plugins' own light modules), nothing else. A plugin that imports numpy, torch or any other
third-party library at load costs every `llmkit` call its import time."""

from __future__ import annotations

import subprocess
import sys

#: third-party top-level modules the CLI may load before a command runs: typer and what it
#: uses to draw help (click vendored or not, rich and its markdown and highlighting), orjson
LIGHT = {
    "typer", "click", "rich", "shellingham", "annotated_doc", "typing_extensions", "orjson", "markdown_it",
    "mdurl", "pygments", "_distutils_hack",
    "attr",  # rich.pretty imports attrs when it is installed, to print attrs classes
}

PROBE = """
import contextlib, io, sys
from llmkit.cli import build_app
import click

app = build_app()
def walk(command, path):
    with click.Context(command, info_name=path[-1]) as ctx:
        command.get_help(ctx)  # what --help prints
    for name, sub in getattr(command, "commands", {}).items():
        walk(sub, path + [name])
with contextlib.redirect_stdout(io.StringIO()):  # rich prints the help itself
    walk(app, ["llmkit"])
stdlib = set(sys.stdlib_module_names)
print("\\n".join(sorted({m.split(".")[0] for m in sys.modules} - stdlib)))
"""


def test_help_of_every_command_imports_only_the_light_modules():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    ours = {m for m in loaded if m == "llmkit" or m.startswith(("llmkit_", "__editable__", "__main__"))}
    assert loaded - ours - LIGHT == set()
