"""The options of rewrite-math, declared once: Typer reads them for --help, the step reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer


@dataclass(frozen=True)
class RewriteSettings:
    field: Annotated[str, typer.Option(help="Field holding the text; the rewrite is written back here.")] = "text"
    prompt: Annotated[Path | None, typer.Option(help="Replace the prompt with this file (placeholder {text}).")] = None
    keep_original: Annotated[bool, typer.Option(help="Keep the input text as original_<field>.")] = False
