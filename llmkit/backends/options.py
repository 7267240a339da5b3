"""The option sets of a model: :class:`ModelOptions` for one held in this process (hooks, scores,
gradients), and :class:`BackendOptions`, every generating subcommand's, which adds the backend,
sampling and server options to it. Each option is declared once, here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

import typer

from llmkit.backends._render import check_sampling_values
from llmkit.backends.base import Prompt, SamplingParams
from llmkit.errors import UsageError

_PANEL = "Backend"
_MODEL_PANEL = "Model"
#: --dtype values, with the aliases both vLLM and transformers accept
DTYPES = frozenset({"auto", "float32", "float", "float16", "half", "bfloat16"})


@dataclass
class ModelOptions:
    """A model loaded with transformers: which, in which dtype, on which device, with its own code
    or not. :class:`llmkit.backends.LocalModel` loads it; the hf backend loads its model by the same
    rules."""

    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model: a Hugging Face hub name or a local path.", rich_help_panel=_MODEL_PANEL),
    ] = None
    dtype: Annotated[
        str, typer.Option(help="Weights dtype: auto, float32, float16 or bfloat16.", rich_help_panel=_MODEL_PANEL)
    ] = "auto"
    device: Annotated[
        str | None,
        typer.Option(help="torch device of a model held in this process (hf; default: cuda when available, else cpu).",
                     rich_help_panel=_MODEL_PANEL),
    ] = None
    max_model_len: Annotated[
        int | None,
        typer.Option(min=1, help="Context length to use (default: the model's); longer inputs are rejected too_long.",
                     rich_help_panel=_MODEL_PANEL),
    ] = None
    trust_remote_code: Annotated[
        bool, typer.Option(help="Allow the model's own Python code to run. Off unless given.", rich_help_panel=_MODEL_PANEL)
    ] = False

    def __post_init__(self) -> None:
        # checked here, once, so that every backend refuses a bad value the same way (exit 2);
        # the openai backend never reads it, vLLM and transformers would fail late and differently
        if self.dtype not in DTYPES:
            raise UsageError(f"unknown --dtype {self.dtype!r}; choose auto, float32, float16 or bfloat16")

    def require_model(self, why: str = "") -> str:
        """The model named by ``--model``; without one, the usage error that says so (``why``: by
        what, for a longer message), the one place the tree says it."""
        if not self.model:
            raise UsageError(f"--model is required{' ' + why if why else ''}")
        return self.model


@dataclass
class BackendOptions(ModelOptions):
    """The model (:class:`ModelOptions`) and how to run it: the backend, sampling values, engine
    and server settings."""

    backend: Annotated[
        str | None,
        typer.Option(help="Generation backend: vllm, hf or openai (default: vllm when installed, else hf).", rich_help_panel=_PANEL),
    ] = None
    max_tokens: Annotated[
        int | None, typer.Option(help="Most new tokens per completion (default: the subcommand's).", rich_help_panel=_PANEL)
    ] = None
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature; 0 = greedy (default: the subcommand's).", rich_help_panel=_PANEL)
    ] = None
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling mass (default: the subcommand's).", rich_help_panel=_PANEL)] = None
    top_k: Annotated[int | None, typer.Option(help="Top-k sampling; 0 = off (default: the subcommand's).", rich_help_panel=_PANEL)] = None
    seed: Annotated[int | None, typer.Option(help="Random seed, for reproducible sampling.", rich_help_panel=_PANEL)] = None
    tensor_parallel_size: Annotated[
        int, typer.Option(min=1, help="vllm: GPUs to shard the model over.", rich_help_panel=_PANEL)
    ] = 1
    gpu_memory_utilization: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="vllm: share of GPU memory the engine may take.", rich_help_panel=_PANEL)
    ] = 0.9
    base_url: Annotated[
        str | None, typer.Option(help="openai: server URL, e.g. http://127.0.0.1:8000/v1.", rich_help_panel=_PANEL)
    ] = None
    api_key_env: Annotated[
        str, typer.Option(help="openai: name of the environment variable holding the API key.", rich_help_panel=_PANEL)
    ] = "OPENAI_API_KEY"
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="openai: requests in flight at once. A vLLM server batches them, so it needs many; "
            "lower it for a rate-limited API (429 answers are retried with backoff anyway).",
            rich_help_panel=_PANEL,
        ),
    ] = 64
    request_timeout: Annotated[
        float, typer.Option(min=0.1, help="openai: seconds before a request times out.", rich_help_panel=_PANEL)
    ] = 600.0
    max_retries: Annotated[
        int, typer.Option(min=0, help="openai: retries on connection errors, 429 and 5xx.", rich_help_panel=_PANEL)
    ] = 5
    chat: Annotated[
        bool | None,
        typer.Option("--chat/--no-chat", help="Render prompts with the model's chat template (default: the subcommand's).", rich_help_panel=_PANEL),
    ] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # the values given: a bad one is known now, not after minutes of loading a model
        check_sampling_values({name: getattr(self, name) for name in ("max_tokens", "temperature", "top_p", "top_k")})
        if self.base_url is not None:  # a broken URL is known before any input is read (httpx: imported here)
            from llmkit.backends._http import checked_base_url

            checked_base_url(self.base_url)

    def check_model(self) -> None:
        """:meth:`require_model`, unless the backend is openai (a server knows its model)."""
        if self.backend != "openai":
            self.require_model()

    def sampling(self, **defaults: Any) -> SamplingParams:
        """Sampling params: the subcommand's ``defaults`` overridden by what the user gave."""
        params = replace(SamplingParams(), **defaults)
        given = {
            name: getattr(self, name)
            for name in ("temperature", "top_p", "top_k", "max_tokens", "seed")
            if getattr(self, name) is not None
        }
        return replace(params, **given)

    def prompt(self, text: str, chat_by_default: bool = True) -> Prompt:
        """``text`` as one user turn of a chat (rendered with the model's template), or as plain
        text with ``--no-chat``; without either flag, the subcommand's ``chat_by_default``."""
        chat = chat_by_default if self.chat is None else self.chat
        return [{"role": "user", "content": text}] if chat else text
