"""A demo plugin for the core's tests, and a script that runs the CLI with it.

    python tests/core/demo_plugin.py demo -i FILE ...   (same as `llmkit demo ...`)
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

import llmkit

app = typer.Typer(help="Demo step: upper-cases a field, optionally slowly.")


class Upper(llmkit.Step):
    name = "upper"
    batch_size = 100

    def __init__(self, field: str, sleep: float, fail: str | None) -> None:
        self.field, self.sleep, self.fail = field, sleep, fail

    def process(self, records):
        if self.fail == "backend":
            raise llmkit.BackendUnavailable("demo server at http://127.0.0.1:9 is down")
        if self.fail == "bug":
            raise RuntimeError("demo bug")
        time.sleep(self.sleep)
        out = []
        for record in records:
            text = llmkit.get_text_field(record, self.field)
            out.append(text if isinstance(text, llmkit.Reject) else {**record, "upper": text.upper()})
        return out


@app.command()
@llmkit.io_options
def demo(
    io: llmkit.IOOptions,
    field: Annotated[str, typer.Option(help="Field to upper-case.")] = "text",
    sleep: Annotated[float, typer.Option(help="Seconds to sleep per batch.")] = 0.0,
    fail: Annotated[str | None, typer.Option(help="backend | bug")] = None,
) -> None:
    """Upper-case FIELD into `upper`."""
    llmkit.run_step(Upper(field, sleep, fail), io)


def plugins():
    from llmkit.plugins import PluginInfo

    return [PluginInfo("demo", __name__, "0", "demo", obj=app)]


if __name__ == "__main__":
    from llmkit.cli import main

    main(sys.argv[1:], plugins=plugins())
