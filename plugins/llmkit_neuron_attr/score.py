"""``neuron-attr score``: attribution scores per neuron, averaged over a task's examples, and the
top neurons as records. An aggregate: one running ``[layers, width]`` sum per task."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmkit import BackendOptions, LateReject, Outcome, Record, Step, UsageError
from llmkit_neuron_attr.attribution import METHODS, RunningScores, attribute
from llmkit_neuron_attr.lm import StudiedModel, answer_rows, check_backend, open_model, pack, pad_id
from llmkit_neuron_attr.records import RecordRules, TaskItem, parse_item


@dataclass(frozen=True)
class ScoreConfig:
    method: str = "act-grad"
    aggregate: str = "mean"  # mean | mean-abs
    steps: int = 20
    top_k: int | None = 1000
    top_percent: float | None = None
    scores_path: str | None = None
    task: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"unknown --method {self.method!r}; choose {', '.join(METHODS)}")
        if self.aggregate not in ("mean", "mean-abs"):
            raise UsageError(f"unknown --aggregate {self.aggregate!r}; choose mean or mean-abs")
        if self.steps < 1:
            raise UsageError("--steps must be at least 1")
        if self.top_percent is not None and not 0 < self.top_percent <= 100:
            raise UsageError("--top-percent must be in (0, 100]")


class ScoreStep(Step):
    name = "neuron-attr-score"
    aggregate = True
    batch_size = 16

    def __init__(self, options: BackendOptions, config: ScoreConfig, model: StudiedModel | None = None) -> None:
        if model is None:
            check_backend(options)
        self.options = options
        self.config = config
        self.sm = model
        self.rules = RecordRules(default_task=config.task, chat=bool(options.chat))
        self.scores: dict[str, RunningScores] = {}

    def open(self) -> None:
        if self.sm is None:
            self.sm = open_model(self.options)
        self.rules = RecordRules(self.rules.default_task, self.rules.chat, self.sm.max_len)

    def process(self, records: list[Record]) -> list[Outcome]:
        sm = self.sm
        assert sm is not None
        outcomes: list[Outcome] = []
        by_task: dict[str, list[TaskItem]] = {}
        for record in records:
            item = parse_item(record, sm.tokenizer, self.rules)
            outcomes.append(item if not isinstance(item, TaskItem) else None)
            if isinstance(item, TaskItem):
                by_task.setdefault(item.task, []).append(item)
        for task, items in by_task.items():
            packed = pack(answer_rows(items), pad_id(sm.tokenizer), sm.device)
            batch = attribute(self.config.method, sm, packed, self.config.steps)
            if task not in self.scores:
                self.scores[task] = RunningScores(sm.layers, sm.width, self.config.aggregate == "mean-abs")
            self.scores[task].add(batch)
        return outcomes

    def finish(self) -> Iterable[Record | LateReject]:
        sm = self.sm
        assert sm is not None
        means = {task: running.mean() for task, running in self.scores.items()}
        if self.config.scores_path is not None:
            save_scores(self.config.scores_path, means, sm, self.config)
        for task, scores in means.items():
            yield from self.top_records(task, scores, self.scores[task].count)

    def top_records(self, task: str, scores: Any, examples: int) -> list[Record]:
        import torch

        sm = self.sm
        assert sm is not None
        total = sm.layers * sm.width
        if self.config.top_percent is not None:
            k = max(1, round(total * self.config.top_percent / 100))
        else:
            k = min(self.config.top_k or total, total)
        # a stable sort on the negated scores: ties keep (layer, index) order, so runs repeat
        order = torch.sort(-scores.flatten(), stable=True).indices[:k].tolist()
        flat = scores.flatten()
        shape = sm.shape_fields()
        method = {"method": self.config.method, "aggregate": self.config.aggregate, "examples": examples}
        return [
            {"task": task, **shape, "layer": i // sm.width, "index": i % sm.width, "score": float(flat[i]), "rank": rank, **method}
            for rank, i in enumerate(order, 1)
        ]


def save_scores(path: str, means: dict[str, Any], sm: StudiedModel, config: ScoreConfig) -> None:
    """One ``[layers, width]`` float32 tensor per task, named by the task, with the model and
    method in the safetensors metadata."""
    from safetensors.torch import save_file

    tensors = {task: scores.float().contiguous() for task, scores in means.items()}
    metadata = {"model": sm.name, "layers": str(sm.layers), "width": str(sm.width), "method": config.method, "aggregate": config.aggregate}
    try:
        save_file(tensors, path, metadata=metadata)
    except OSError as exc:
        raise UsageError(f"cannot write --scores {path}: {exc.strerror or exc}") from exc
