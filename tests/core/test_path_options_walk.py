"""Every path option of every registered subcommand, given the command's own input file: the input
is never changed, and an option the command writes to is refused (exit 2, the option named)
before any output is touched. The options are read from the commands' Typer/click parameters,
so a new subcommand or option is walked without being listed here."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from llmkit.cli import build_app, main

#: options that name a file or folder (their help says so); names of fields and tasks do not
_PATHISH = re.compile(r"\b(file|folder|path|JSONL|write)\b", re.I)
_NOT_PATHS = re.compile(r"^(Field|Task|Output field)", re.I)
#: a command writes to the option (a side output, or the contract's -o/--rejects)
_WRITES = re.compile(r"\b(write|folder)\b|^Output JSONL|^Head records", re.I)
#: where a command without -i reads its records
_INPUT_OPTION = {"ret-heads mask": "--heads", "ret-heads detect": "--needles"}
#: --model is read by the model loaders only, and loading an engine for each case would take minutes
_SKIPPED_COMMANDS: tuple[str, ...] = ()
_SKIPPED_OPTIONS = {"--model"}


@functools.cache
def _app():
    return build_app()


def _leaves(command, name=()):
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for sub_name, sub in subcommands.items():
            yield from _leaves(sub, (*name, sub_name))
    else:
        yield " ".join(name), command


def _options(command):
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option" or param.is_flag:
            continue
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if annotation in (str, Path) or getattr(param, "type", None) is not None and param.type.name in ("text", "path"):
            yield param


def _cases():
    cases = []
    for name, command in _leaves(_app()):
        if name.split(" ")[0] in _SKIPPED_COMMANDS or name in ("plugins", "tiny-model"):
            continue
        flags = {param.opts[0] for param in _options(command)} | {o for p in command.params for o in p.opts}
        source = _INPUT_OPTION.get(name, "--input" if "--input" in flags else None)
        if source is None:
            continue
        for param in _options(command):
            option, help_text = param.opts[0], param.help or ""
            if option in _SKIPPED_OPTIONS or option == source or _NOT_PATHS.search(help_text) or not _PATHISH.search(help_text):
                continue
            # required options, and --model (required by the run, not by click), name absent files
            required = [p.opts[0] for p in command.params if (getattr(p, "required", False) or p.opts[0] == "--model")
                        and p.opts[0] not in (option, source)]
            cases.append(pytest.param(name, source, option, bool(_WRITES.search(help_text)), required, id=f"{name} {option}"))
    return cases


@pytest.mark.parametrize(("name", "source", "option", "writes", "required"), _cases())
def test_a_path_option_naming_the_input_never_changes_it(tmp_path, capsys, name, source, option, writes, required):
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": 1, "text": "a", "prompt": "a", "task": "t", "layer": 0, "index": 0, "layers": 1, "width": 1}\n')
    before = data.read_bytes(), data.stat().st_mtime_ns
    fillers = [arg for flag in required for arg in (flag, str(tmp_path / f"absent{flag.strip('-')}"))]
    argv = [*name.split(" "), source, str(data), option, str(data), *fillers, "-q"] if "--quiet" in _flags(name) else \
        [*name.split(" "), source, str(data), option, str(data), *fillers]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    code = int(exit_info.value.code or 0)
    err = capsys.readouterr().err
    assert (data.read_bytes(), data.stat().st_mtime_ns) == before, f"{name} {option} changed its input"
    assert code not in (1, 70) and "Traceback" not in err, err
    if writes:
        assert code == 2 and "is the input" in err and (option in err or option == "--output" and "-o/--output" in err), err


def _flags(name: str) -> set[str]:
    command = _app()
    for part in name.split(" "):
        command = command.commands[part]
    return {flag for param in command.params for flag in param.opts}
