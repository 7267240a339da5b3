"""``pairs``: RetMask preference pairs, chosen = the original model's answer, rejected = the masked twin's.

One engine at a time, each opened once: the run makes two passes through the core's contract.
Pass 1 generates the original model's answers and writes each input record with its answer to a
spill file (``--spill``, by default ``<output>.chosen.jsonl``); its engine is closed; pass 2 opens
the masked model, reads the spill, generates the rejected answers and writes the pairs. Holding a
batch's answers in memory instead would need both models loaded, or an engine start per batch.
Both passes are resumable: the spill and the output are the record of what is done, so a run
killed in either pass is completed by ``--resume`` with nothing generated twice that was written.
Both passes run as ``--resume`` runs underneath (a fresh run first empties the output, the spill
and the rejects), so a record without an id gets its input position as ``id``, as ``--resume`` gives it.

Rejects: ``empty_answer`` (either answer empty after stripping; the original's is caught in
pass 1, before the masked model is asked), ``truncated`` (either answer stopped at the token
budget, with ``--drop-truncated``), ``identical`` (the two answers equal after stripping).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llmkit
import llmkit.backends

#: RetMask's sampling for both models (2_Contrastive_Response_Generation)
SAMPLING = {"temperature": 0.6, "top_p": 1.0, "max_tokens": 2048}
#: pass 1's own fields in the spill, dropped from the pairs: the original answer's finish reason,
#: and the record's FILE:LINE in the input (pass 2's rejects name it, not the spill's line)
_FINISH = "_ret_heads_chosen_finish"
_SOURCE = "_ret_heads_source"
_OWN = (_FINISH, _SOURCE)


@dataclass
class PairsConfig:
    field: str = "prompt"
    chat_format: bool = False
    drop_truncated: bool = False


def _answer_problem(completion: llmkit.Completion, which: str, config: PairsConfig) -> llmkit.Reject | None:
    if not completion.text.strip():
        return llmkit.Reject("empty_answer", f"the {which} model's answer is empty")
    if config.drop_truncated and completion.finish_reason == "length":
        return llmkit.Reject("truncated", f"the {which} model's answer reached the token limit")
    return None


class ChosenStep(llmkit.GenerationStep):
    """Pass 1: the original model's answer, kept beside the record in the spill."""

    name = "chosen"
    sampling_defaults = SAMPLING

    def __init__(self, options: llmkit.BackendOptions, config: PairsConfig, backend: llmkit.backends.Backend | None = None) -> None:
        writes = [name for name in ("prompt", "chosen", "rejected", *_OWN) if name != config.field]
        super().__init__(options, backend, field=config.field, writes=writes,
                         clash_hint="the pairs are written to 'prompt', 'chosen' and 'rejected'; rename it in the input")
        self.config = config

    def prompt(self, record: llmkit.Record, text: str | None) -> llmkit.Prompt | llmkit.Reject:
        return self.chat_prompt(text or "")

    def accept(self, record: llmkit.Record, completions: list[llmkit.Completion]) -> llmkit.Outcome:
        answer = completions[0]
        problem = _answer_problem(answer, "original", self.config)
        if problem is not None:
            return problem
        return {**record, "chosen": answer.text, _FINISH: answer.finish_reason, _SOURCE: llmkit.source_of(record)}


class RejectedStep(llmkit.GenerationStep):
    """Pass 2: the masked model's answer to the same prompt, and the DPO record."""

    name = "rejected"
    sampling_defaults = SAMPLING
    #: declared: process() below only names each reject's input line; the batches still overlap
    overlaps = True

    def __init__(self, options: llmkit.BackendOptions, config: PairsConfig, backend: llmkit.backends.Backend | None = None) -> None:
        super().__init__(options, backend, field=config.field)
        self.config = config

    # The template's own rejects (too_long, no_answer, ...) would cite the spill line pass 2 read;
    # every reject of this pass names the input line pass 1 read, whoever made it.

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        return _from_input_all(records, super().process(records))

    def begin(self, records: list[llmkit.Record]) -> Any:
        return records, super().begin(records)

    def complete(self, begun: Any) -> list[llmkit.Outcome]:
        records, inner = begun
        return _from_input_all(records, super().complete(inner))

    def prompt(self, record: llmkit.Record, text: str | None) -> llmkit.Prompt | llmkit.Reject:
        return self.chat_prompt(text or "")

    def accept(self, record: llmkit.Record, completions: list[llmkit.Completion]) -> llmkit.Outcome:
        answer = completions[0]
        problem = _answer_problem(answer, "masked", self.config)
        chosen = record.get("chosen")
        if problem is None and not isinstance(chosen, str):
            problem = llmkit.Reject("missing_field", "the spill record has no 'chosen' answer (not written by pass 1?)")
        if problem is None and chosen.strip() == answer.text.strip():  # type: ignore[union-attr]
            problem = llmkit.Reject("identical", "the masked model gave the original model's answer")
        if problem is not None:
            return _from_input(record, problem)
        return pair_record(record, record[self.config.field], chosen, answer.text, self.config.chat_format)  # type: ignore[arg-type]


def _from_input_all(records: list[llmkit.Record], outcomes: list[llmkit.Outcome]) -> list[llmkit.Outcome]:
    """``outcomes`` with each reject not yet named (the template's) naming its input line."""
    return [
        _from_input(record, outcome) if isinstance(outcome, llmkit.Reject) and outcome.source is None else outcome
        for record, outcome in zip(records, outcomes)
    ]


def _from_input(record: llmkit.Record, reject: llmkit.Reject) -> llmkit.Reject:
    """A pass-2 reject naming the input line pass 1 read the record from, with pass 1's own fields
    taken off the record (the core writes this same record to --rejects)."""
    source = record.get(_SOURCE)
    for name in _OWN:
        record.pop(name, None)
    return dataclasses.replace(reject, source=source if isinstance(source, str) else None)


def pair_record(record: llmkit.Record, prompt: str, chosen: str, rejected: str, chat_format: bool) -> llmkit.Record:
    """TRL's preference record: standard (strings) or conversational (message lists)."""
    out = {key: value for key, value in record.items() if key not in _OWN}
    if chat_format:
        out.update(prompt=[{"role": "user", "content": prompt}], chosen=[{"role": "assistant", "content": chosen}],
                   rejected=[{"role": "assistant", "content": rejected}])
    else:
        out.update(prompt=prompt, chosen=chosen, rejected=rejected)
    return out


def run_pairs(io: llmkit.IOOptions, options: llmkit.BackendOptions, masked: str, config: PairsConfig,
              spill: str | None = None) -> None:
    """Both passes; the spill is kept (the original model's answers, what ``--resume`` needs).

    ``-o``, ``--rejects`` and the spill are claimed (never an input nor each other, locked) before
    anything is emptied or generated, so a refused or locked run has changed no file."""
    io.validate()
    if io.cluster.executor.value != "local":
        raise llmkit.UsageError("ret-heads pairs runs its two passes (two models, one after the other) in this process: "
                                "--executor ray does not apply; split the input with --shard K/N instead")
    to_stdout = io.output in (None, "-")
    with tempfile.TemporaryDirectory(prefix="ret-heads-pairs-") as scratch, llmkit.SideOutputs(io, lock_outputs=True) as side:
        if spill is None:
            spill = os.path.join(scratch, "chosen.jsonl") if to_stdout else f"{io.output}.chosen.jsonl"
        claimed = side.file("--spill", spill)
        assert claimed is not None
        if not io.resume:
            for output in side.claimed:  # all locked now: -o, --rejects and the spill start anew
                output.empty()
        llmkit.run_step(ChosenStep(options, config), dataclasses.replace(io, output=claimed.path, resume=True))
        second = dataclasses.replace(io, inputs=[claimed.path], resume=not to_stdout, shard=None, limit=None)
        late_rejects = None
        if to_stdout and io.rejects:
            # without --resume the core would start the rejects file afresh: pass 2 writes its
            # own, appended to pass 1's once it ends
            late_rejects = os.path.join(scratch, "rejects.jsonl")
            second = dataclasses.replace(second, rejects=late_rejects)
        try:
            llmkit.run_step(RejectedStep(dataclasses.replace(options, model=masked), config), second)
        finally:
            if late_rejects is not None and os.path.exists(late_rejects):
                rejects = next(output for output in side.claimed if output.option == "--rejects")
                try:
                    with open(rejects.path, "ab") as target:
                        target.write(Path(late_rejects).read_bytes())
                except OSError as exc:
                    raise rejects.failed(exc) from exc
