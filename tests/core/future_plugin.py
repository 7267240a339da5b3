"""A plugin module written with postponed annotations (PEP 563)."""

from __future__ import annotations
from typing import Annotated
import typer
import llmkit
app = typer.Typer(help="x")
@app.command()
@llmkit.io_options
def cmd(io: llmkit.IOOptions, field: Annotated[str, typer.Option(help="THE FIELD HELP")] = "text") -> None:
    """Doc."""
