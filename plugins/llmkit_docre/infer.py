"""From model outputs to predicted triples with evidence (shared by predict and dev evaluation).

A pair's relations are the classes whose logit exceeds the threshold class's, at most the top
``num_labels``; each triple's ``score`` is its logit minus the threshold logit, and its
``evidence`` the sentences whose pair attention exceeds ``evi_threshold`` (DREEAM: 0.2). The
evidence is the pair's, shared by its relations, as in DREEAM.
"""

from __future__ import annotations

from typing import Any

import torch

from llmkit_docre.data import Relations
from llmkit_docre.features import Feature
from llmkit_docre.losses import decide
from llmkit_docre.model import DocREModel, PairOutput


def triples(output: PairOutput, feature: Feature, relations: Relations, num_labels: int = 4, evi_threshold: float = 0.2) -> list[dict[str, Any]]:
    """The predicted triples of one document, ``h``, ``t``, ``r``, ``score``, ``evidence``."""
    if output.logits.shape[0] == 0:
        return []
    logits = output.logits.float()
    chosen = decide(logits, num_labels)
    relative = logits - logits[:, :1]
    evidence = output.sentence_attention.float() > evi_threshold
    found = []
    for i, c in torch.nonzero(chosen[:, 1:]).tolist():
        h, t = feature.pairs[i]
        found.append({
            "h": h, "t": t, "r": relations.names[c + 1], "score": round(float(relative[i, c + 1]), 6),
            "evidence": torch.nonzero(evidence[i]).flatten().tolist(),
        })
    return found


@torch.no_grad()
def predict_features(
    model: DocREModel, features: list[Feature], relations: Relations, batch_size: int = 4,
    num_labels: int = 4, evi_threshold: float = 0.2,
) -> list[list[dict[str, Any]]]:
    """Predicted triples of each feature, in order."""
    was_training = model.training
    model.eval()
    results: list[list[dict[str, Any]]] = []
    try:
        for start in range(0, len(features), batch_size):
            batch = features[start : start + batch_size]
            with autocast(model):
                outputs = model(batch)
            results.extend(triples(o, f, relations, num_labels, evi_threshold) for o, f in zip(outputs, batch, strict=True))
    finally:
        model.train(was_training)
    return results


def autocast(model: torch.nn.Module) -> Any:
    """bf16 autocast on CUDA (the anchors train in mixed precision); nothing on the CPU."""
    import contextlib

    device = next(model.parameters()).device
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def relative_scores(logits: torch.Tensor, num_labels: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The top ``num_labels`` classes of each pair (indices) and their relative scores, as
    DREEAM's ``extract_relative_score`` computes them for fusion: logit minus the threshold
    class's logit when the threshold class is among the top ``num_labels``, else logit minus
    (the ``num_labels``-th logit - 1). Positive exactly when :func:`decide` predicts the class."""
    k = logits.shape[1] if num_labels <= 0 else min(num_labels, logits.shape[1])
    values, indices = torch.topk(logits, k, dim=1)
    th_in_top = (indices == 0).any(dim=1, keepdim=True)
    reference = torch.where(th_in_top, logits[:, :1], values[:, -1:] - 1)
    return values - reference, indices


Triple = tuple[int, int, str]


def pair_candidates(
    output: PairOutput, feature: Feature, relations: Relations, num_labels: int = 4, evi_threshold: float = 0.2,
) -> tuple[dict[Triple, float], dict[tuple[int, int], list[int]]]:
    """ISF's inputs from one document's output: the top ``num_labels`` classes of every pair
    except NA, with their relative scores (:func:`relative_scores`), and every pair's evidence."""
    cands: dict[Triple, float] = {}
    evidence: dict[tuple[int, int], list[int]] = {}
    if output.logits.shape[0]:
        scores, top = relative_scores(output.logits.float(), num_labels)
        above = output.sentence_attention.float() > evi_threshold
        for i, (h, t) in enumerate(feature.pairs):
            evidence[(h, t)] = torch.nonzero(above[i]).flatten().tolist()
            for s, c in zip(scores[i].tolist(), top[i].tolist(), strict=True):
                if c != 0:
                    cands[(h, t, relations.names[c])] = s
    return cands, evidence
