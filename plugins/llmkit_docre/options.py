"""Every option set of the docre commands, declared once (typer and llmkit only, no torch).

Each set is a dataclass whose ``__post_init__`` checks what Typer's bounds cannot, so that a
command refuses a bad option (exit 2) before it reads a document or loads an encoder.

- :class:`Architecture`: the model's shape and decoding, stored in ``docre.json`` with the
  weights (:class:`llmkit_docre.checkpoint.ModelSettings` extends it) and read back by every
  command that loads the model;
- :class:`Schedule` and :class:`RunFlags`: how ``docre train`` trains (the trainer's
  ``TrainOptions`` extends all three);
- :class:`TransferConfig`, :class:`RecommendConfig`, :class:`EditStepsConfig`: the workflow
  commands' options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

import llmkit

_PANEL = "Training"
#: translation units of `docre transfer`
UNITS = ("sentence", "document")
#: analysers that cut a translation into tokens (llmkit_docre.morph)
TOKENIZERS = ("fugashi", "sudachi", "chars", "words")
#: where `docre recommend` takes its relations from
SOURCES = ("model", "predictions", "distant")


@dataclass
class Architecture:
    """The model's shape and decoding (DREEAM's defaults), saved with the model."""

    emb_size: Annotated[int, typer.Option(min=1, help="Size of the head/tail representations.", rich_help_panel=_PANEL)] = 768
    block_size: Annotated[
        int, typer.Option(min=1, help="Block size of the grouped bilinear classifier (divides --emb-size).", rich_help_panel=_PANEL)
    ] = 64
    layers: Annotated[
        int, typer.Option(min=1, help="Last layers averaged for hidden states and attentions (DREEAM 3, ATLOP 1).", rich_help_panel=_PANEL)
    ] = 3
    window: Annotated[int, typer.Option(min=8, help="Encoder window; longer documents are encoded in overlapping windows.", rich_help_panel=_PANEL)] = 512
    max_length: Annotated[int, typer.Option(min=8, help="Most sub-word tokens per document (longer ones are cut).", rich_help_panel=_PANEL)] = 1024
    num_labels: Annotated[int, typer.Option(min=1, help="Most relations predicted per entity pair (ATLOP/DREEAM 4).", rich_help_panel=_PANEL)] = 4
    evi_threshold: Annotated[
        float, typer.Option(min=0, max=1, help="Sentence attention above which a sentence is evidence.", rich_help_panel=_PANEL)
    ] = 0.2

    def __post_init__(self) -> None:
        problem = architecture_problem(vars(self))
        if problem:
            raise llmkit.UsageError(problem)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def architecture_problem(values: Mapping[str, Any], flag: Callable[[str], str] = _flag) -> str | None:
    """What makes these architecture values unusable, each named by ``flag`` (the option by
    default; a saved ``docre.json`` names its keys)."""
    for name in ("emb_size", "block_size", "layers", "window", "max_length", "num_labels"):
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"{flag(name)} must be a whole number of at least 1, got {value!r}"
    if values["emb_size"] % values["block_size"]:
        return f"{flag('emb_size')} ({values['emb_size']}) must be a multiple of {flag('block_size')} ({values['block_size']})"
    threshold = values.get("evi_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        return f"{flag('evi_threshold')} must be a number from 0 to 1, got {threshold!r}"
    return None


def architecture_of(values: Architecture) -> Architecture:
    """The :class:`Architecture` part of a subclass (training options, saved settings)."""
    return Architecture(**{f.name: getattr(values, f.name) for f in fields(Architecture)})


@dataclass
class Schedule:
    """The optimisation schedule (ATLOP/DREEAM's published defaults for base encoders)."""

    lr: Annotated[float, typer.Option(min=0, help="Encoder learning rate (5e-5 base, 3e-5 large encoders).", rich_help_panel=_PANEL)] = 5e-5
    added_lr: Annotated[float, typer.Option(min=0, help="Learning rate of the added layers.", rich_help_panel=_PANEL)] = 1e-4
    warmup: Annotated[float, typer.Option(min=0, max=1, help="Share of steps for linear warm-up.", rich_help_panel=_PANEL)] = 0.06
    max_grad_norm: Annotated[float, typer.Option(min=0, help="Gradient norm clip (above 0).", rich_help_panel=_PANEL)] = 1.0
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.", rich_help_panel=_PANEL)] = 30
    grad_accum: Annotated[int, typer.Option(min=1, help="Batches per optimizer step.", rich_help_panel=_PANEL)] = 1

    def __post_init__(self) -> None:
        check_schedule(self.lr, self.added_lr, self.max_grad_norm)


def check_schedule(lr: float, added_lr: float, max_grad_norm: float, prefix: str = "") -> None:
    """Learning rates of 0 or more (0 freezes), a clip above 0; also for self-train's phases."""
    for name, value in (("lr", lr), ("added-lr", added_lr)):
        if not value >= 0 or math.isinf(value):  # NaN fails the comparison
            raise llmkit.UsageError(f"--{prefix}{name} must be 0 or more, got {value}")
    if not max_grad_norm > 0 or math.isinf(max_grad_norm):
        raise llmkit.UsageError(f"--{prefix}max-grad-norm must be above 0, got {max_grad_norm}")


@dataclass
class RunFlags:
    """How a training run goes (shared by `docre train` and `docre self-train`)."""

    batch_size: Annotated[int, typer.Option(min=1, help="Documents per batch.", rich_help_panel=_PANEL)] = 4
    seed: Annotated[int, typer.Option(help="Random seed.", rich_help_panel=_PANEL)] = 66
    device: Annotated[str | None, typer.Option(help="torch device (default: cuda when available, else cpu).", rich_help_panel=_PANEL)] = None
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its last epoch.", rich_help_panel=_PANEL)] = False
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.", rich_help_panel=_PANEL)] = False


@dataclass
class Phase:
    """One phase of self-training: its schedule."""

    lr: float
    added_lr: float
    epochs: int
    grad_accum: int
    max_grad_norm: float


_SELF = "Self-training"


@dataclass
class SelfTrainPhases:
    """`docre self-train`: the loss weights and the two phases' schedules (DREEAM's BERT scripts)."""

    attn_lambda: Annotated[
        float, typer.Option(min=0, help="Weight of KL(teacher || student) token attention (DREEAM's args.py default 1.0).", rich_help_panel=_SELF)
    ] = 1.0
    evi_lambda: Annotated[float, typer.Option(min=0, help="Weight of the evidence KL in the fine-tuning.", rich_help_panel=_SELF)] = 0.1
    distant_lr: Annotated[float, typer.Option(min=0, help="Distant phase: encoder learning rate.", rich_help_panel=_SELF)] = 3e-5
    distant_added_lr: Annotated[float, typer.Option(min=0, help="Distant phase: added layers' learning rate.", rich_help_panel=_SELF)] = 1e-4
    distant_epochs: Annotated[int, typer.Option(min=1, help="Distant phase: epochs.", rich_help_panel=_SELF)] = 2
    distant_grad_accum: Annotated[int, typer.Option(min=1, help="Distant phase: batches per optimizer step.", rich_help_panel=_SELF)] = 2
    distant_max_grad_norm: Annotated[float, typer.Option(min=0, help="Distant phase: gradient norm clip.", rich_help_panel=_SELF)] = 5.0
    finetune_lr: Annotated[float, typer.Option(min=0, help="Fine-tuning: encoder learning rate.", rich_help_panel=_SELF)] = 1e-6
    finetune_added_lr: Annotated[float, typer.Option(min=0, help="Fine-tuning: added layers' learning rate.", rich_help_panel=_SELF)] = 3e-6
    finetune_epochs: Annotated[int, typer.Option(min=1, help="Fine-tuning: epochs.", rich_help_panel=_SELF)] = 10
    finetune_max_grad_norm: Annotated[float, typer.Option(min=0, help="Fine-tuning: gradient norm clip.", rich_help_panel=_SELF)] = 2.0

    def __post_init__(self) -> None:
        check_schedule(self.distant_lr, self.distant_added_lr, self.distant_max_grad_norm, prefix="distant-")
        check_schedule(self.finetune_lr, self.finetune_added_lr, self.finetune_max_grad_norm, prefix="finetune-")

    @property
    def distant(self) -> Phase:
        return Phase(self.distant_lr, self.distant_added_lr, self.distant_epochs, self.distant_grad_accum, self.distant_max_grad_norm)

    @property
    def finetune(self) -> Phase:
        return Phase(self.finetune_lr, self.finetune_added_lr, self.finetune_epochs, 1, self.finetune_max_grad_norm)


@dataclass
class TransferConfig:
    """`docre transfer`: what to translate into, how, and where the statistics go."""

    target_lang: Annotated[str, typer.Option(help="Language to translate into (ja, zh, en, de, ... or a language name).")]
    source_lang: Annotated[str, typer.Option(help="Language of the input documents.")] = "en"
    unit: Annotated[str, typer.Option(help="Translate each sentence (sentence ids kept) or each whole document (document).")] = "sentence"
    retries: Annotated[int, typer.Option(min=0, help="Attempts more for a unit whose mention markers come back wrong.")] = 1
    tokenizer: Annotated[
        str | None,
        typer.Option(help="Tokenizer of the translation: fugashi, sudachi, chars or words (default: fugashi for ja, chars for zh, else words)."),
    ] = None
    prompt: Annotated[str | None, typer.Option(help="Replace the prompt (placeholders {source_lang}, {target_lang}, {text}).")] = None
    retry_prompt: Annotated[str | None, typer.Option(help="Replace the retry prompt (also {previous} and {problems}).")] = None
    field: Annotated[str, typer.Option(help="Field recording the source title, model and marker statistics.")] = "transfer"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise llmkit.UsageError(f"--unit must be sentence or document, got {self.unit!r}")
        if self.retries < 0:
            raise llmkit.UsageError("--retries must be 0 or more")
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise llmkit.UsageError(f"unknown --tokenizer {self.tokenizer!r}; choose {', '.join(TOKENIZERS)}")
        if not self.target_lang.strip() or not self.source_lang.strip():
            raise llmkit.UsageError("--target-lang and --source-lang must name a language")


@dataclass
class RecommendConfig:
    """`docre recommend`: where recommendations come from and how many are kept."""

    source: Annotated[str, typer.Option(help="model (a docre model), predictions (triples in the record) or distant (--kb).")] = "model"
    model_dir: Annotated[str | None, typer.Option("--model", "-m", help="source model: a model directory written by docre train.")] = None
    kb: Annotated[
        str | None, typer.Option(help="source distant: {head, relation, tail} JSONL, or distant-supervision DocRED documents.")
    ] = None
    predictions_field: Annotated[str, typer.Option(help="source predictions: field holding the predicted triples.")] = "predicted_labels"
    field: Annotated[str, typer.Option(help="Field to write the recommendations to.")] = "recommended_labels"
    top_k: Annotated[int, typer.Option(min=1, help="Most relations recommended per entity pair.")] = 4
    min_score: Annotated[float | None, typer.Option(help="Keep relations scoring at least this (model: logit minus threshold).")] = None
    device: Annotated[str | None, typer.Option(help="source model: torch device (default: cuda when available, else cpu).")] = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise llmkit.UsageError(f"--source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.source == "distant" and self.kb is None:
            raise llmkit.UsageError("--source distant needs --kb FILE (triples or distant-supervision documents)")
        if self.source == "model" and self.model_dir is None:
            raise llmkit.UsageError("--source model needs --model DIR (a model trained by docre train)")
        if self.top_k < 1:
            raise llmkit.UsageError("--top-k must be at least 1")
        if self.device:  # the name only: whether this machine has that CUDA device is known where the model loads
            from llmkit_docre.device import parse_device

            parse_device(self.device)


@dataclass
class EditStepsConfig:
    """`docre edit-steps`: the gold documents, the recommendation fields compared, what is counted."""

    gold: Annotated[str, typer.Option(help="The annotated documents (DocRED JSON array or JSONL).")]
    fields: Annotated[
        list[str],
        typer.Option("--field", help="Field of recommended triples; repeat to compare several (default recommended_labels)."),
    ] = field(default_factory=lambda: ["recommended_labels"])
    evidence: Annotated[bool, typer.Option(help="Also count evidence-sentence edits.")] = False
    key: Annotated[str, typer.Option(help="Field matching a document to its gold one.")] = "title"

    def __post_init__(self) -> None:
        if not self.fields:
            self.fields = ["recommended_labels"]


architecture_options = llmkit.option_set(Architecture)
schedule_options = llmkit.option_set(Schedule)
run_options = llmkit.option_set(RunFlags)
transfer_options = llmkit.option_set(TransferConfig)
recommend_options = llmkit.option_set(RecommendConfig)
edit_steps_options = llmkit.option_set(EditStepsConfig)
self_train_options = llmkit.option_set(SelfTrainPhases)
