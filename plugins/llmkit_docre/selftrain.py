"""DREEAM's evidence self-training: teacher attention on distant data, student, fine-tuning.

1. The teacher (a model trained with the evidence loss) computes, for every pair of every
   distant document, its token-level localized-context attention ``a`` (no evidence labels are
   needed). Each document's attention (pairs, L) is written as its own float16 file under
   ``OUT/teacher_attention/``, so neither computing nor training ever holds the attentions of
   the whole distant set in memory; documents already written are skipped on a rerun.
2. A student (fresh from the encoder, as in DREEAM's scripts) trains on the distant documents
   with ATLoss + ``attn_lambda`` x KL(teacher || student) over all pairs; the human evidence loss
   is off (DREEAM's ``load_input`` drops evidence labels when teacher attentions are given).
   Defaults of DREEAM's BERT script: lr 3e-5, gradient accumulation 2, grad-norm 5.0, 2 epochs.
3. The student is fine-tuned on the annotated documents with the evidence loss: lr 1e-6, added
   layers 3e-6, grad-norm 2.0, 10 epochs. The result is written to ``OUT``; the distant-phase
   model stays in ``OUT/distant``.

The student must use the teacher's tokenizer (the token attentions are position by position);
a document whose pieces do not line up with its stored attention stops the run.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from pathlib import Path

import torch

from llmkit import InputError, UsageError
from llmkit_docre.data import Document, Relations
from llmkit_docre.features import Feature, Featurizer
from llmkit_docre.infer import autocast
from llmkit_docre.model import DocREModel
from llmkit_docre.options import Phase, architecture_of
from llmkit_docre.train import Trainer, TrainOptions, log, pick_device


class AttentionStore:
    """Per-document teacher attentions on disk: ``DIR/<index>.pt``, float16, (pairs, L)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, index: int) -> Path:
        return self.directory / f"{index:08d}.pt"

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    def write(self, index: int, attention: torch.Tensor) -> None:
        tmp = self.path(index).with_suffix(".tmp")
        torch.save(attention.detach().to("cpu", torch.float16).clone(), tmp)
        tmp.replace(self.path(index))

    def read(self, index: int) -> torch.Tensor:
        return torch.load(self.path(index), map_location="cpu", weights_only=True).float()


@torch.no_grad()
def write_teacher_attention(
    model: DocREModel, features: list[Feature], store: AttentionStore, batch_size: int = 4, quiet: bool = False
) -> int:
    """Compute and store the teacher's pair attention of every feature not stored yet."""
    model.eval()
    todo = [i for i in range(len(features)) if not store.has(i)]
    for done, start in enumerate(range(0, len(todo), batch_size)):
        indices = todo[start : start + batch_size]
        with autocast(model):
            outputs = model([features[i] for i in indices])
        for i, output in zip(indices, outputs, strict=True):
            store.write(i, output.token_attention.float())
        if not quiet and done % 50 == 0:
            print(f"docre: teacher attention {start + len(indices)}/{len(todo)}", file=sys.stderr, flush=True)
    return len(todo)


class StoredTeacher:
    """The ``TeacherAttention`` a Trainer reads, one document at a time (the shape is checked
    against the student's own attention in the loss)."""

    def __init__(self, store: AttentionStore) -> None:
        self.store = store

    def __call__(self, index: int) -> torch.Tensor:
        return self.store.read(index)


def self_train(
    teacher_dir: str, encoder: str | None, relations: Relations, distant: list[Document], train: list[Document],
    dev: list[Document], output: Path, base: TrainOptions, distant_phase: Phase, finetune_phase: Phase,
) -> None:
    from llmkit_docre.checkpoint import load_model

    teacher, tokenizer, settings = load_model(teacher_dir, pick_device(base.device))
    if settings.inventory().names != relations.names:
        raise UsageError("--relations does not match the teacher's relation inventory")
    shape = asdict(architecture_of(settings))
    shape.pop("evi_threshold")  # the student decides evidence by its own options' threshold
    base = replace(base, **shape)
    if not distant:
        raise InputError("no usable distant document")
    featurize = Featurizer(tokenizer, settings.max_length)
    distant_features = [featurize(d) for d in distant]
    store = AttentionStore(output / "teacher_attention")
    teacher.to(pick_device(base.device))
    written = write_teacher_attention(teacher, distant_features, store, base.batch_size, base.quiet)
    log(base, f"teacher attention: {written} documents computed, {len(distant_features) - written} already stored")
    del teacher
    # phase 2: the student on distant data, teacher attention as the target, no evidence loss
    distant_dir = output / "distant"
    options = _phase(replace(base, evi_lambda=0.0), distant_phase)
    if not _finished(distant_dir, options.epochs):
        trainer = Trainer(encoder or settings.encoder, relations, distant_dir, options)
        trainer.run(distant, dev, teacher=StoredTeacher(store))
    # phase 3: fine-tune on the annotated data with the evidence loss
    student, student_tokenizer, _s = load_model(distant_dir)
    options = _phase(replace(base, attn_lambda=0.0), finetune_phase)
    trainer = Trainer(encoder or settings.encoder, relations, output, options, model=student, tokenizer=student_tokenizer)
    trainer.run(train, dev)


def _phase(options: TrainOptions, phase: Phase) -> TrainOptions:
    return replace(
        options, lr=phase.lr, added_lr=phase.added_lr, epochs=phase.epochs, grad_accum=phase.grad_accum,
        max_grad_norm=phase.max_grad_norm,
    )


def _finished(directory: Path, epochs: int) -> bool:
    import json

    state = directory / "last" / "docre.json"
    return state.is_file() and json.loads(state.read_text(encoding="utf-8")).get("epoch", 0) >= epochs
