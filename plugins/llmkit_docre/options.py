"""The training options `docre train` and `docre self-train` share (declared once, no torch import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

import llmkit

_PANEL = "Training"


@dataclass
class TrainFlags:
    batch_size: Annotated[int, typer.Option(min=1, help="Documents per batch.", rich_help_panel=_PANEL)] = 4
    lr: Annotated[float, typer.Option(help="Encoder learning rate (5e-5 base, 3e-5 large encoders).", rich_help_panel=_PANEL)] = 5e-5
    added_lr: Annotated[float, typer.Option(help="Learning rate of the added layers.", rich_help_panel=_PANEL)] = 1e-4
    warmup: Annotated[float, typer.Option(min=0, max=1, help="Share of steps for linear warm-up.", rich_help_panel=_PANEL)] = 0.06
    max_grad_norm: Annotated[float, typer.Option(help="Gradient norm clip.", rich_help_panel=_PANEL)] = 1.0
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.", rich_help_panel=_PANEL)] = 30
    seed: Annotated[int, typer.Option(help="Random seed.", rich_help_panel=_PANEL)] = 66
    grad_accum: Annotated[int, typer.Option(min=1, help="Batches per optimizer step.", rich_help_panel=_PANEL)] = 1
    emb_size: Annotated[int, typer.Option(min=1, help="Size of the head/tail representations.", rich_help_panel=_PANEL)] = 768
    block_size: Annotated[int, typer.Option(min=1, help="Block size of the grouped bilinear classifier.", rich_help_panel=_PANEL)] = 64
    layers: Annotated[int, typer.Option(min=1, help="Last layers averaged for hidden states and attentions (DREEAM 3, ATLOP 1).", rich_help_panel=_PANEL)] = 3
    max_length: Annotated[int, typer.Option(min=8, help="Most sub-word tokens per document (longer ones are cut).", rich_help_panel=_PANEL)] = 1024
    window: Annotated[int, typer.Option(min=8, help="Encoder window; longer documents are encoded in overlapping windows.", rich_help_panel=_PANEL)] = 512
    evi_threshold: Annotated[float, typer.Option(help="Sentence attention above which a sentence is evidence.", rich_help_panel=_PANEL)] = 0.2
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).", rich_help_panel=_PANEL)] = None
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from MODEL_DIR/last.", rich_help_panel=_PANEL)] = False
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.", rich_help_panel=_PANEL)] = False

    def to_options(self, **extra: object) -> object:
        """The :class:`llmkit_docre.train.TrainOptions` these flags describe."""
        from dataclasses import asdict

        from llmkit_docre.train import TrainOptions

        return TrainOptions(**asdict(self), **extra)  # type: ignore[arg-type]


#: Decorator adding the training options to a command, passed as ``flags: TrainFlags``.
train_flags = llmkit.option_set(TrainFlags, "flags")
