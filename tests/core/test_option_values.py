"""A number option given NaN or an infinity is exit 2 when the command line is read, for every
float option of every subcommand (the check lives where click reads values, not in each plugin)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.core.helpers import run_demo


def _commands(command, path=()):
    """(path, command) for every command in the tree that runs a callback."""
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))
    if getattr(command, "callback", None) is not None:
        yield path, command


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity", "1e999"])
def test_a_plugin_float_option_refuses_values_that_are_not_finite(tmp_path, value):
    result = run_demo("--sleep", value, "-i", "/dev/null")
    assert result.returncode == 2, result.stderr
    assert b"--sleep" in result.stderr and b"not a finite number" in result.stderr


def test_a_finite_value_still_passes(tmp_path):
    assert run_demo("--sleep", "0.0", "-i", "/dev/null", "-q").returncode == 0


def test_every_command_of_every_installed_subcommand_checks_its_values():
    from llmkit.cli import build_app

    commands = list(_commands(build_app()))
    assert len(commands) > 10
    unchecked = [path for path, command in commands if not getattr(command.callback, "finite_floats_checked", False)]
    assert unchecked == []


@pytest.mark.parametrize("args", [["contrastive-gen", "--beta", "inf"], ["rewrite-code", "--lint-threshold", "nan"],
                                  ["rewrite-math", "--temperature", "inf"]])  # fmt: skip
def test_the_issue_cases_exit_2_before_any_model_loads(args):
    result = subprocess.run([sys.executable, "-m", "llmkit", *args, "-i", "/dev/null", "--model", "/no/such/model"],
                            capture_output=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert b"not a finite number" in result.stderr and b"Traceback" not in result.stderr
