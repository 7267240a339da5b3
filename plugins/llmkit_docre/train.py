"""Training DREEAM (ATLOP when ``evi_lambda`` is 0): the loop, dev evaluation, checkpoints, resume.

Published defaults (ATLOP/DREEAM ``args.py`` and scripts): batch 4 documents, AdamW with eps 1e-6,
lr 5e-5 for the encoder (base models) and 1e-4 for the added layers, linear warm-up over 6% of
the steps then linear decay, gradient norm clipped at 1.0, 30 epochs, seed 66. The loss is
ATLoss over all pairs of the batch + ``evi_lambda`` x the evidence KL over the pairs that hold a
relation (DREEAM, 0.1) + ``attn_lambda`` x the token-attention KL towards a teacher (self-training).
The dev set is scored after every epoch with the official evaluation; the best dev F1 is kept.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import torch

from llmkit import InputError, UsageError
from llmkit_docre.checkpoint import ModelSettings, encoder_location, load_encoder, save
from llmkit_docre.data import Document, Relations
from llmkit_docre.device import pick_device
from llmkit_docre.features import Feature, Featurizer
from llmkit_docre.infer import autocast, predict_features
from llmkit_docre.losses import at_loss, attention_kl, evidence_kl
from llmkit_docre.model import DocREModel, PairOutput
from llmkit_docre.options import Architecture, RunFlags, Schedule, architecture_of
from llmkit_docre.official import Prediction, Scores, gold_from_records, official_scores


@dataclass
class TrainOptions(Architecture, Schedule, RunFlags):
    """Everything a training run needs: the option sets of `docre train` and the loss weights
    (each declared once, in :mod:`llmkit_docre.options`, except the three below)."""

    evi_lambda: float = 0.1
    attn_lambda: float = 0.0
    adam_eps: float = 1e-6

    def __post_init__(self) -> None:
        Architecture.__post_init__(self)
        Schedule.__post_init__(self)

    @property
    def architecture(self) -> Architecture:
        """The part saved in ``docre.json``."""
        return architecture_of(self)


class TeacherAttention(Protocol):
    """Token attention of a teacher for the pairs of training document ``index`` (pairs, L)."""

    def __call__(self, index: int) -> torch.Tensor: ...


def log(options: TrainOptions, message: str) -> None:
    if not options.quiet:
        print(f"docre: {message}", file=sys.stderr, flush=True)


def report_rejects(options: TrainOptions, what: str, rejects: list[tuple[str, Any]]) -> None:
    if rejects:
        counts = Counter(r.reason for _s, r in rejects)
        first = rejects[0]
        log(options, f"{what}: {len(rejects)} documents rejected ({dict(counts)}); first at {first[0]}: {first[1].detail}")


def batch_loss(
    outputs: list[PairOutput], batch: list[Feature], options: TrainOptions, num_classes: int,
    teacher: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """ATLoss + evi_lambda x evidence KL (pairs with a relation) + attn_lambda x teacher KL."""
    logits = torch.cat([o.logits for o in outputs]).float()
    labels = torch.zeros_like(logits)
    for row, pair_labels in enumerate(p for f in batch for p in f.labels or []):
        labels[row, pair_labels or [0]] = 1.0
    loss = at_loss(logits, labels)
    parts = {"re": float(loss.detach())}
    if options.evi_lambda > 0 and teacher is None:
        attn, target = _evidence_rows(outputs, batch)
        if attn is not None:
            evi = evidence_kl(attn, target)
            loss = loss + options.evi_lambda * evi
            parts["evi"] = float(evi.detach())
    if teacher is not None and options.attn_lambda > 0:
        for index, (output, target) in enumerate(zip(outputs, teacher, strict=True)):
            if target.shape != output.token_attention.shape:
                raise InputError(
                    f"batch document {index}: the stored teacher attention has shape {tuple(target.shape)}, the student's"
                    f" {tuple(output.token_attention.shape)}; the student must use the teacher's tokenizer and --max-length"
                )
        student = _pad_cat([o.token_attention.float() for o in outputs])
        kl = attention_kl(student, _pad_cat(teacher).to(student.device))
        loss = loss + options.attn_lambda * kl
        parts["attn"] = float(kl.detach())
    return loss, parts


def _evidence_rows(outputs: list[PairOutput], batch: list[Feature]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    rows, targets = [], []
    for output, feature in zip(outputs, batch, strict=True):
        used = [i for i, labels in enumerate(feature.labels or []) if labels]
        if used:
            rows.append(output.sentence_attention[used].float())
            targets.append(torch.tensor([feature.evidence[i] for i in used], dtype=torch.float))  # type: ignore[index]
    if not rows:
        return None, None
    attn = _pad_cat(rows)
    return attn, _pad_cat(targets).to(attn.device)


def _pad_cat(rows: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate (n_i, k_i) tensors along dim 0, zero-padding the second dimension."""
    width = max(r.shape[1] for r in rows)
    return torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1])) for r in rows])


def evaluate_dev(model: DocREModel, features: list[Feature], relations: Relations, options: TrainOptions) -> Scores:
    found = predict_features(model, features, relations, options.batch_size, options.num_labels, options.evi_threshold)
    predictions = [
        Prediction(f.document.title, p["h"], p["t"], p["r"], frozenset(p["evidence"]))  # type: ignore[union-attr]
        for f, doc_preds in zip(features, found, strict=True) for p in doc_preds
    ]
    gold = gold_from_records([f.document.record for f in features])  # type: ignore[union-attr]
    return official_scores(predictions, gold)


class Trainer:
    """One training run: ``run()`` trains, evaluates each epoch and writes checkpoints."""

    def __init__(
        self, encoder_name: str, relations: Relations, output: Path, options: TrainOptions,
        model: DocREModel | None = None, tokenizer: Any = None,
    ) -> None:
        self.relations = relations
        self.output = output
        self.options = options
        self.device = pick_device(options.device)
        if model is None:
            encoder, tokenizer = load_encoder(encoder_name)
            torch.manual_seed(options.seed)  # the added layers' initialisation follows --seed
            model = DocREModel(
                encoder, tokenizer, relations.num_classes, options.emb_size, options.block_size, options.layers, options.window
            )
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.featurize = Featurizer(tokenizer, options.max_length)
        self.settings = ModelSettings(
            **asdict(options.architecture), relations=relations.to_json(), descriptions=relations.descriptions,
            encoder=encoder_location(encoder_name),
        )

    def run(self, train: list[Document], dev: list[Document], teacher: TeacherAttention | None = None) -> Scores | None:
        options = self.options
        if not train:
            raise InputError("no usable training document")
        train_features = [self.featurize(d) for d in train]
        # a document with fewer than two entities has no pair: nothing to learn from, and a batch
        # of such documents would make ATLoss the mean of nothing (NaN) and poison the weights
        # (left out of the epochs by _epoch, which keeps the indices a teacher's store is keyed by)
        usable = sum(bool(f.pairs) for f in train_features)
        if usable < len(train_features):
            log(options, f"{len(train_features) - usable} training documents with fewer than two entities left out (no entity pair)")
            if not usable:
                raise InputError("no training document has two entities")
        dev_features = [self.featurize(d) for d in dev]
        steps_per_epoch = -(-usable // options.batch_size) // options.grad_accum or 1
        optimizer, scheduler = self._optimizer(steps_per_epoch * options.epochs)
        start_epoch, best = self._resume(optimizer, scheduler)
        best_scores: Scores | None = None
        for epoch in range(start_epoch, options.epochs):
            loss = self._epoch(epoch, train_features, optimizer, scheduler, teacher)
            line = f"epoch {epoch + 1}/{options.epochs}: loss {loss:.4f}"
            if dev_features:
                scores = evaluate_dev(self.model, dev_features, self.relations, options)
                line += f", dev F1 {100 * scores.f1:.2f}, Evi F1 {100 * scores.evi_f1:.2f}"
                if scores.f1 > best or best < 0:
                    best, best_scores = scores.f1, scores
                    self.settings = replace(self.settings, dev=scores.as_record(), epoch=epoch + 1)
                    save(self.output, self.model, self.tokenizer, self.settings)
                    line += " (best)"
            else:
                self.settings = replace(self.settings, epoch=epoch + 1)
                save(self.output, self.model, self.tokenizer, self.settings)
            log(options, line)
            state = {
                "epoch": epoch + 1, "best": best, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "settings": self.settings.__dict__,
            }
            save(self.output / "last", self.model, self.tokenizer, replace(self.settings, epoch=epoch + 1), state)
        return best_scores

    def _optimizer(self, total_steps: int) -> tuple[Any, Any]:
        from transformers import get_linear_schedule_with_warmup

        added = {id(p) for p in self.model.added_parameters()}
        groups = [
            {"params": [p for p in self.model.parameters() if id(p) not in added], "lr": self.options.lr},
            {"params": self.model.added_parameters(), "lr": self.options.added_lr},
        ]
        optimizer = torch.optim.AdamW(groups, lr=self.options.lr, eps=self.options.adam_eps)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.options.warmup * total_steps), total_steps)
        return optimizer, scheduler

    def _resume(self, optimizer: Any, scheduler: Any) -> tuple[int, float]:
        last = self.output / "last"
        if not self.options.resume:
            if (self.output / "docre.json").exists():
                raise UsageError(f"{self.output} already holds a model; pass --resume to continue it, or choose another -o")
            return 0, -1.0
        if not (last / "training.pt").is_file():
            log(self.options, f"--resume: {last} holds no checkpoint yet; starting from the first epoch")
            return 0, -1.0
        from llmkit_docre.checkpoint import load_model

        model, _tok, settings = load_model(last, self.device)
        self.model.load_state_dict(model.state_dict())
        state = torch.load(last / "training.pt", map_location="cpu", weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        self.settings = ModelSettings(**state["settings"])
        log(self.options, f"resuming after epoch {state['epoch']} (best dev F1 so far {100 * max(state['best'], 0):.2f})")
        return int(state["epoch"]), float(state["best"])

    def _epoch(self, epoch: int, features: list[Feature], optimizer: Any, scheduler: Any, teacher: TeacherAttention | None) -> float:
        options = self.options
        # the order depends only on (seed, epoch), so a resumed run sees what the first would have
        order = [i for i, f in enumerate(features) if f.pairs]
        random.Random(options.seed * 1000 + epoch).shuffle(order)
        torch.manual_seed(options.seed * 1000 + epoch)
        self.model.train()
        total, count = 0.0, 0
        batches = [order[i : i + options.batch_size] for i in range(0, len(order), options.batch_size)]
        for number, indices in enumerate(batches, 1):
            batch = [features[i] for i in indices]
            with autocast(self.model):
                outputs = self.model(batch)
            target = [teacher(i) for i in indices] if teacher is not None else None
            loss, _parts = batch_loss(outputs, batch, options, self.relations.num_classes, target)
            (loss / options.grad_accum).backward()
            total, count = total + float(loss.detach()), count + 1
            if number % options.grad_accum == 0 or number == len(batches):
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), options.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
        return total / max(count, 1)
