"""``neuron-attr score``: attribution scores per neuron, averaged over a task's examples, and the
top neurons as records. An aggregate: one running ``[layers, width]`` sum per task."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmkit import BackendOptions, LateReject, Outcome, Record, SideOutput, Step
from llmkit_neuron_attr.attribution import RunningScores, attribute
from llmkit_neuron_attr.lm import StudiedModel, answer_rows, check_backend, open_model, pack, pad_id
from llmkit_neuron_attr.options import ScoreConfig
from llmkit_neuron_attr.records import RecordRules, TaskItem, parse_item


class ScoreStep(Step):
    name = "neuron-attr-score"
    aggregate = True
    batch_size = 16

    def __init__(self, options: BackendOptions, config: ScoreConfig, model: StudiedModel | None = None,
                 scores_out: SideOutput | None = None) -> None:
        if model is None:
            check_backend(options)
        self.options = options
        self.config = config
        #: ``--scores``, claimed by the command (llmkit.SideOutputs)
        self.scores_out = scores_out
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
        if self.scores_out is not None:
            save_scores(self.scores_out, means, sm, self.config)
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


def save_scores(out: SideOutput, means: dict[str, Any], sm: StudiedModel, config: ScoreConfig) -> None:
    """One ``[layers, width]`` float32 tensor per task, named by the task, with the model and
    method in the safetensors metadata; written whole (a failed run leaves the old file). The
    bytes are made in memory and written by the side output: safetensors' own ``save_file``
    renames a temporary file onto its path, which would replace a device or a FIFO."""
    from safetensors.torch import save

    tensors = {task: scores.float().contiguous() for task, scores in means.items()}
    metadata = {"model": sm.name, "layers": str(sm.layers), "width": str(sm.width), "method": config.method, "aggregate": config.aggregate}
    out.write_bytes(save(tensors, metadata=metadata))
