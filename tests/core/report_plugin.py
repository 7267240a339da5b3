"""Commands for the report tests: a generation step answered by a scripted backend, with a
prompt file and backend options (model, API key env), so a report has tokens, a prompt and a model.

    python tests/core/report_plugin.py echo-gen -i FILE ...   (same as `llmkit echo-gen ...`)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import llmkit
from llmkit.testing import ScriptedBackend, failure

app = typer.Typer(help="Report test commands.")


def _answer(prompt):
    text = str(prompt)
    if "FAIL" in text:
        return failure("too_long", "planted")
    if "AGAIN" in text and not text.startswith("again:"):
        return "garbled"  # unusable: the step asks once more (its retry hook)
    return "echo " + text[-5:]


class EchoGen(llmkit.GenerationStep):
    name = "echo"
    overlaps = True
    sampling_per_batch = False
    sampling_defaults = {"max_tokens": 8}
    max_attempts = 2

    def __init__(self, options: llmkit.BackendOptions, template: llmkit.PromptTemplate) -> None:
        super().__init__(options, ScriptedBackend(_answer), field="text", writes=("echo",))
        self.template = template

    def prompt(self, record, text):
        return self.template.render(text=text)

    def accept(self, record, completions):
        return {**record, "echo": completions[0].text}

    def retry(self, record, index, result, attempt):
        if result.completions[0].text != "garbled":
            return None
        return llmkit.Retry("again: " + str(record["text"]), llmkit.Reject("garbled"))


@app.command("echo-gen")
@llmkit.io_options
@llmkit.backend_options
def echo_gen(
    io: llmkit.IOOptions,
    backend: llmkit.BackendOptions,
    prompt: Annotated[Path | None, typer.Option(help="Prompt file with {text}.")] = None,
    api_key: Annotated[str | None, typer.Option(help="A secret given on the command line.")] = None,
    note: Annotated[str | None, typer.Option(help="Free text (may hold a secret by mistake).")] = None,
) -> None:
    """Echo the end of each prompt, through the generation template and a scripted backend."""
    if prompt is None:
        raise llmkit.UsageError("--prompt is required")
    template = llmkit.load_prompt("llmkit", "unused", prompt, required={"text"})
    llmkit.run_step(EchoGen(backend, template), io)


def plugins():
    from llmkit.plugins import PluginInfo

    return [PluginInfo("echo-gen", __name__, "0.7", "report tests", obj=app)]


if __name__ == "__main__":
    from llmkit.cli import main

    main(sys.argv[1:], plugins=plugins())
