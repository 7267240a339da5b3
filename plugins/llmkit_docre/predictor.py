"""A trained docre model loaded once, and what one pass of it over documents yields.

``predict``, ``recommend --source model``, inference-stage fusion and ``isf-tune`` share this
one predictor. A pass (:meth:`Predictor.first_pass`) runs the model once per document and
decodes both what ``predict`` writes (the decided triples) and what fusion needs (every pair's
top-k relative scores and evidence), so that ``--isf`` builds on the pass it was given instead
of running the model over the documents a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from llmkit_docre.data import Document, Relations
from llmkit_docre.features import Feature
from llmkit_docre.infer import Triple, autocast, pair_candidates, triples
from llmkit_docre.model import PairOutput

#: documents per forward pass (the batch the dev evaluation uses too)
BATCH = 4


@dataclass
class Candidates:
    """Fusion's view of one document: top-k relative scores (NA aside) and every pair's evidence."""

    scores: dict[Triple, float]
    evidence: dict[tuple[int, int], list[int]]


@dataclass
class FirstPass(Candidates):
    """One document after one model pass: also the triples ``predict`` writes without fusion."""

    triples: list[dict[str, Any]]


class Predictor:
    """Loads ``model_dir`` on construction; ``evi_threshold`` None = the model's own (0.2)."""

    def __init__(self, model_dir: str, device: str | None = None, evi_threshold: float | None = None) -> None:
        from llmkit_docre.checkpoint import load_model
        from llmkit_docre.features import Featurizer
        from llmkit_docre.device import pick_device

        self.model, tokenizer, settings = load_model(model_dir, pick_device(device))  # the device is checked first
        self.relations: Relations = settings.inventory()
        self.num_labels = settings.num_labels
        self.evi_threshold = settings.evi_threshold if evi_threshold is None else evi_threshold
        self._featurize = Featurizer(tokenizer, settings.max_length)

    def first_pass(self, documents: list[Document]) -> list[FirstPass]:
        """Decided triples and fusion candidates of each document, from one model pass."""
        out = []
        for output, feature in self._outputs(documents):
            found = triples(output, feature, self.relations, self.num_labels, self.evi_threshold)
            scores, evidence = pair_candidates(output, feature, self.relations, self.num_labels, self.evi_threshold)
            out.append(FirstPass(scores, evidence, found))
        return out

    def candidates(self, documents: list[Document]) -> list[Candidates]:
        """Fusion candidates of each document (ISF's pseudo-documents)."""
        return [
            Candidates(*pair_candidates(output, feature, self.relations, self.num_labels, self.evi_threshold))
            for output, feature in self._outputs(documents)
        ]

    @torch.no_grad()
    def _outputs(self, documents: list[Document]) -> Iterator[tuple[PairOutput, Feature]]:
        features = [self._featurize(d, with_labels=False) for d in documents]
        for start in range(0, len(features), BATCH):
            batch = features[start : start + BATCH]
            with autocast(self.model):
                outputs = self.model(batch)
            yield from zip(outputs, batch, strict=True)
