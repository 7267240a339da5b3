"""The ``detect`` step: needles in, one record per head and a closing summary record out.

An aggregate step: ``process`` checks and keeps the needle records (a malformed needle is a
reject), ``finish`` runs every needle at every (length, depth) and yields the head records.
A head's score is the mean of its per-trial scores over the trials whose answer recalls the
needle's answer (ROUGE-1 recall >= 0.5); trials that fail the filter add nothing, not a zero.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llmkit
import llmkit.backends
from llmkit_ret_heads.haystack import (
    Needle,
    TrialBuilder,
    default_haystack,
    needle_of,
    read_haystack,
)
from llmkit_ret_heads.organisation import summarise

RECALL_FILTER = 0.5


@dataclass
class DetectConfig:
    #: the model (the core's option set): loaded in this process, its heads hooked
    model: llmkit.ModelOptions
    lengths: list[int]
    depths: list[float]
    threshold: float = 0.1
    haystack: str | None = None
    haystack_field: str = "text"
    prompt: Path | None = None
    chat: bool | None = None
    max_tokens: int = 50
    show_table: bool = True
    name: str | None = None  # the model's name in the records (default: --model as given)


@dataclass
class Tally:
    """Running sums of the per-trial head scores over the counted trials."""

    total: Any = None
    counted: int = 0
    run: int = 0
    recalls: list[float] = field(default_factory=list)

    def add(self, scores: Any, recall: float) -> None:
        self.run += 1
        self.recalls.append(recall)
        if recall >= RECALL_FILTER:
            self.counted += 1
            self.total = scores.clone() if self.total is None else self.total + scores


class DetectStep(llmkit.Step):
    name = "detect"
    aggregate = True

    def __init__(self, config: DetectConfig, plot: llmkit.SideOutput | None = None) -> None:
        self.config = config
        #: ``--plot``, claimed by the command (llmkit.SideOutputs)
        self.plot = plot
        self.needles: list[Needle] = []
        #: loaded in finish(), once the needles are read (--model is checked now)
        self.local = llmkit.backends.LocalModel(config.model)
        self.template = llmkit.load_prompt("llmkit_ret_heads", "detect", config.prompt, required={"context", "question"})
        # read now: a missing or empty --haystack is exit 2 before any model loads
        self.haystack = read_haystack(config.haystack, config.haystack_field) if config.haystack else default_haystack()

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        outcomes: list[llmkit.Outcome] = []
        for record in records:
            needle = needle_of(record)
            if isinstance(needle, llmkit.Reject):
                outcomes.append(needle)
            else:
                self.needles.append(needle)
                outcomes.append(None)
        return outcomes

    def finish(self) -> Iterable[llmkit.Record]:
        if not self.needles:
            raise llmkit.UsageError("no valid needle: nothing to detect with")
        config = self.config
        tokenizer = self.local.tokenizer
        chat = bool(getattr(tokenizer, "chat_template", None)) if config.chat is None else config.chat
        builder = TrialBuilder(tokenizer, self.haystack, self.template, chat, max(config.lengths))
        for index, needle in enumerate(self.needles):  # a too-short --lengths: exit 2 before the model loads
            builder.build(index, needle, min(config.lengths), 0.0)
        model = self.local.model
        self._check_context(builder)
        tally = run_trials(model, tokenizer, builder, self.needles, config)
        yield from head_records(model, tally, config, self.plot)

    def _check_context(self, builder: TrialBuilder) -> None:
        """The longest trial and its answer fit the model's context (--max-model-len, else the
        model's own), or no trial runs: past it a model with learned positions fails and one with
        rotary positions reads garbage."""
        context, config = self.local.context_length, self.config
        if context is None:
            return
        longest = max(len(builder.build(i, needle, max(config.lengths), 0.0).ids) for i, needle in enumerate(self.needles))
        if longest + config.max_tokens > context:
            raise llmkit.UsageError(
                f"--lengths {max(config.lengths)} makes prompts of {longest} tokens, which with --max-tokens "
                f"{config.max_tokens} exceed the model's context of {context} tokens; use shorter --lengths"
            )


def run_trials(model: Any, tokenizer: Any, builder: TrialBuilder, needles: list[Needle], config: DetectConfig) -> Tally:
    from llmkit_ret_heads.capture import Top1Capture
    from llmkit_ret_heads.decode import run_trial
    from llmkit_ret_heads.rouge import rouge1_recall

    eos = llmkit.backends.eos_token_ids(model, tokenizer)
    tally = Tally()
    with Top1Capture(model) as capture:
        for length in config.lengths:
            counted = tally.counted
            for depth in config.depths:
                for index, needle in enumerate(needles):
                    trial = builder.build(index, needle, length, depth)
                    result = run_trial(model, tokenizer, capture, trial, eos, config.max_tokens)
                    tally.add(result.scores, rouge1_recall(result.answer, needle.answer))
            if config.show_table:  # a line per length: long runs show where they are
                done = len(config.depths) * len(needles)
                print(f"ret-heads detect: length {length}: {tally.counted - counted}/{done} trials recalled the needle",
                      file=sys.stderr, flush=True)
    return tally


def head_records(model: Any, tally: Tally, config: DetectConfig, plot: llmkit.SideOutput | None = None) -> Iterable[llmkit.Record]:
    from llmkit.backends import transformer_blocks

    blocks = transformer_blocks(model)
    heads, kv_heads = blocks[0].num_heads, blocks[0].num_kv_heads
    name = config.name or config.model.require_model()
    records = []
    for layer in range(len(blocks)):
        for head in range(heads):
            score = float(tally.total[layer, head]) / tally.counted if tally.counted else 0.0
            records.append({"type": "head", "model": name, "layer": layer, "head": head,
                            "kv_head": head // (heads // kv_heads), "score": score,
                            "trials": tally.counted, "retrieval": score >= config.threshold})
    summary = summarise(name, records, config.threshold, kv_heads=kv_heads, trials_run=tally.run,
                        trials_counted=tally.counted, mean_recall=sum(tally.recalls) / max(1, len(tally.recalls)),
                        lengths=config.lengths, depths=config.depths)
    if config.show_table:
        from llmkit_ret_heads.report import print_summaries

        print_summaries([summary])
    if plot is not None:
        from llmkit_ret_heads.report import plot_heatmap

        plot_heatmap(records, plot)
    return [*records, summary]
