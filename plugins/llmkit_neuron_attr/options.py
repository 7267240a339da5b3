"""The model options of the subcommands that load a model.

Not the core's backend option set: neuron-attr runs transformers itself (hooks, gradients), so
sampling and server options do not apply, and the backend set's sampling ``--top-k`` would clash
with this subcommand's ``--top-k`` (how many neurons). The options kept mean what they mean for
the hf backend, and are handed to the core's loader as a :class:`llmkit.BackendOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

import llmkit

_PANEL = "Model"


@dataclass
class ModelOptions:
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model: a Hugging Face hub name or a local path.", rich_help_panel=_PANEL)] = None
    dtype: Annotated[str, typer.Option(help="Weights dtype: auto, float32, float16 or bfloat16.", rich_help_panel=_PANEL)] = "auto"
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).", rich_help_panel=_PANEL)] = None
    max_model_len: Annotated[int | None, typer.Option(min=1, help="Context length (default: the model's); longer records are too_long.", rich_help_panel=_PANEL)] = None
    chat: Annotated[bool, typer.Option("--chat/--no-chat", help="Render prompts with the model's chat template.", rich_help_panel=_PANEL)] = False
    trust_remote_code: Annotated[bool, typer.Option(help="Allow the model's own Python code to run. Off unless given.", rich_help_panel=_PANEL)] = False
    seed: Annotated[int, typer.Option(help="First seed of the random controls.", rich_help_panel=_PANEL)] = 0

    def backend(self) -> llmkit.BackendOptions:
        """The core's option record for :func:`llmkit.backends.load_causal_lm`."""
        return llmkit.BackendOptions(
            model=self.model,
            backend="hf",
            dtype=self.dtype,
            device=self.device,
            max_model_len=self.max_model_len,
            chat=self.chat,
            trust_remote_code=self.trust_remote_code,
        )


model_options = llmkit.option_set(ModelOptions, "model_opts")
