"""``option_set``: the set reaches the parameter annotated with its class (whatever its name),
nested sets offer their options too, a command without the parameter is refused when decorated,
and the decorated command can still be called from Python with the set itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

import llmkit


@dataclass
class Inner:
    depth: Annotated[int, typer.Option(help="How deep.")] = 1


@dataclass
class Settings:
    width: Annotated[int, typer.Option(help="How wide.")] = 2
    verbose: Annotated[bool, typer.Option(help="Say more.")] = False
    inner: Inner = field(default_factory=Inner)


settings_options = llmkit.option_set(Settings)


def invoke(command: object, args: list[str]) -> object:
    app = typer.Typer()
    app.command()(command)  # type: ignore[arg-type]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_the_set_reaches_the_parameter_annotated_with_its_class_whatever_its_name():
    seen: list[tuple[Settings, str]] = []

    @settings_options
    def cmd(name: str, how_it_is_set_up: Settings) -> None:
        seen.append((how_it_is_set_up, name))

    invoke(cmd, ["x", "--width", "5", "--verbose", "--depth", "7"])
    assert seen == [(Settings(width=5, verbose=True, inner=Inner(depth=7)), "x")]


def test_a_command_written_for_a_base_class_takes_the_subclass_set():
    seen: list[llmkit.IOOptions] = []

    @llmkit.whole_input_options
    def cmd(io: llmkit.IOOptions) -> None:
        seen.append(io)

    invoke(cmd, ["-o", "out.jsonl"])
    assert type(seen[0]) is llmkit.WholeInputOptions and seen[0].output == "out.jsonl"


def test_a_command_without_the_parameter_or_with_two_is_refused_when_decorated():
    with pytest.raises(TypeError, match="no parameter annotated Settings"):

        @settings_options
        def none(settings: Inner) -> None: ...

    with pytest.raises(TypeError, match=r"2 parameters \(a, b\) annotated Settings"):

        @settings_options
        def two(a: Settings, b: Settings) -> None: ...


def test_the_decorated_command_is_still_callable_with_the_set_itself():
    @llmkit.io_options
    @settings_options
    def cmd(io: llmkit.IOOptions, settings: Settings, word: str = "w") -> str:
        return f"{io.output} {settings.width} {word}"

    assert cmd(llmkit.IOOptions(output="o"), Settings(width=9), word="z") == "o 9 z"
    assert cmd(io=llmkit.IOOptions(output="p"), settings=Settings()) == "p 2 w"
