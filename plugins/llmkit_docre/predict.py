"""The `docre predict` step: documents in, documents with ``predicted_labels`` out (streaming).

Each output document is the input record with ``predicted_labels``: ``h``, ``t``, ``r``,
``score`` (logit minus the threshold class's), ``evidence`` (sentences whose pair attention
exceeds the evidence threshold). Labels the input carries are neither needed nor checked.
Rejects: the data module's document reasons, and ``field_exists`` when the record already has a
``predicted_labels`` that is not a list (a previous run's list is replaced).
"""

from __future__ import annotations

from typing import Any

from llmkit import Outcome, Record, Reject, Step, existing_field
from llmkit_docre.data import Document, parse_document

FIELD = "predicted_labels"


class PredictStep(Step):
    name = "docre-predict"
    batch_size = 16

    def __init__(self, model_dir: str, device: str | None = None, evi_threshold: float | None = None,
                 isf: bool = False, isf_threshold: float | None = None) -> None:
        if device:  # a bad name now, before the run reads a line or the model folder
            from llmkit_docre.device import parse_device

            parse_device(device)
        self.model_dir = model_dir
        self.device_name = device  # the name: where the model loads picks the device (cuda there or not)
        self.evi_threshold = evi_threshold
        self.isf = isf
        self.isf_threshold = isf_threshold
        self.predictor: Any = None

    def open(self) -> None:
        from llmkit_docre.predictor import Predictor

        if self.isf and self.isf_threshold is None:
            from llmkit_docre.isf import saved_threshold

            self.isf_threshold = saved_threshold(self.model_dir)  # a missing or damaged file fails before the model loads
        self.predictor = Predictor(self.model_dir, self.device_name, self.evi_threshold)

    def process(self, records: list[Record]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        documents: list[tuple[int, Document]] = []
        for record in records:
            clash = existing_field(record, FIELD, earlier=list, hint="rename it in the input")
            parsed = clash or parse_document(record, labels=False)
            outcomes.append(parsed if isinstance(parsed, Reject) else None)
            if isinstance(parsed, Document):
                documents.append((len(outcomes) - 1, parsed))
        found = self.predict([d for _i, d in documents])
        for (index, document), labels in zip(documents, found, strict=True):
            outcomes[index] = {**document.record, FIELD: labels}
        return outcomes

    def predict(self, documents: list[Document]) -> list[list[dict[str, Any]]]:
        first = self.predictor.first_pass(documents)
        if not self.isf:
            return [passed.triples for passed in first]
        from llmkit_docre.isf import fuse

        return fuse(self.predictor, documents, first, float(self.isf_threshold))  # type: ignore[arg-type]
