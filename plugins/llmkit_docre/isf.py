"""Inference-stage fusion (DREEAM, from EIDER): re-predict on evidence pseudo-documents and merge.

1. The first pass scores every pair; its top-4 classes (NA aside) are candidates with DREEAM's
   relative score (``infer.relative_scores``: logit - TH logit, or logit - (4th logit - 1) when
   TH is not in the top 4; positive = predicted).
2. For each pair with evidence, predicted or not (DREEAM reads them from its file of every
   pair's top-k candidates), a pseudo-document holds its evidence sentences, plus
   the sentence of the head's (tail's) first mention when no evidence sentence mentions it;
   equal sentence groups are built once. Every pair of entities with a mention there is scored
   again; a triple seen in several pseudo-documents keeps its highest score.
3. Merge: a triple positive in both passes is kept; any other candidate gets the sum of its two
   scores, or its one score - 10 when only one pass has it, and is kept when that fused score
   reaches the threshold chosen on dev to maximise F1 (``docre isf-tune``), saved in the model
   directory as ``isf_threshold.json``.

Deviations, said in the README: merged triples carry the first pass's pair evidence (DREEAM's
fused output has none, so its fused Evi F1 is 0); with a saved threshold a candidate is kept when
its fused score is at or above it (DREEAM's ``merge_results`` cuts the sorted list at the
``min`` of the candidate tuples above the threshold, which compares the gold flag first).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Protocol

from llmkit import InputError, UsageError
from llmkit_docre.data import Document, parse_document
from llmkit_docre.infer import Triple
from llmkit_docre.predictor import Candidates, FirstPass, Predictor

PENALTY = 10.0
THRESHOLD_FILE = "isf_threshold.json"


class Rescorer(Protocol):
    """What fusion asks of a predictor: candidates of the pseudo-documents (a :class:`Predictor`)."""

    def candidates(self, documents: list[Document]) -> list[Candidates]: ...


def pseudo_document(document: Document, sentences: list[int]) -> tuple[Document, list[int]] | None:
    """The sub-document of ``sentences`` (sorted) and the original index of each of its entities."""
    index = {s: i for i, s in enumerate(sentences)}
    vertex, kept = [], []
    for e, entity in enumerate(document.record["vertexSet"]):
        mentions = [{**m, "sent_id": index[m["sent_id"]]} for m in entity if m["sent_id"] in index]
        if mentions:
            vertex.append(mentions)
            kept.append(e)
    record = {"title": document.title, "sents": [document.sents[s] for s in sentences], "vertexSet": vertex}
    parsed = parse_document(record, labels=False)
    return (parsed, kept) if isinstance(parsed, Document) else None


def sentence_groups(document: Document, predicted: list[dict[str, Any]]) -> list[list[int]]:
    groups: list[list[int]] = []
    for triple in predicted:
        chosen = set(triple["evidence"])
        if not chosen:
            continue
        for entity in (triple["h"], triple["t"]):
            sents = sorted(m.sent_id for m in document.entities[entity])
            if not chosen & set(sents):
                chosen.add(sents[0])
        group = sorted(chosen)
        if group not in groups:
            groups.append(group)
    return groups


def fused_candidates(first: dict[Triple, float], second: dict[Triple, float]) -> tuple[list[Triple], dict[Triple, float]]:
    """Triples positive in both passes (kept whatever the threshold) and the fused scores of the rest."""
    kept, fused = [], {}
    for triple in first.keys() | second.keys():
        if triple in first and triple in second:
            if first[triple] > 0 and second[triple] > 0:
                kept.append(triple)
                continue
            fused[triple] = first[triple] + second[triple]
        elif triple in first:
            fused[triple] = first[triple] - PENALTY
        else:
            fused[triple] = second[triple] - PENALTY
    return sorted(kept), fused


def second_pass(predictor: Rescorer, document: Document, first: Candidates) -> dict[Triple, float]:
    """The best pseudo-document score of each triple of ``document``, from the first pass's evidence."""
    # DREEAM builds pseudo-documents from its top-k file, which holds every pair, positive or
    # not: a pair the first pass missed still gets its evidence re-read
    every_pair = [{"h": h, "t": t, "evidence": ev} for (h, t), ev in first.evidence.items()]
    pseudo = [p for g in sentence_groups(document, every_pair) if (p := pseudo_document(document, g))]
    second: dict[Triple, float] = {}
    if pseudo:
        found = predictor.candidates([d for d, _kept in pseudo])
        for (_doc, kept), candidates in zip(pseudo, found, strict=True):
            for (h, t, r), s in candidates.scores.items():
                key = (kept[h], kept[t], r)
                second[key] = max(s, second.get(key, s))
    return second


def fuse(predictor: Rescorer, documents: list[Document], first: list[FirstPass], threshold: float) -> list[list[dict[str, Any]]]:
    """The fused predicted triples of each document, from its first pass."""
    out = []
    for document, passed in zip(documents, first, strict=True):
        second = second_pass(predictor, document, passed)
        kept, fused = fused_candidates(passed.scores, second)
        chosen = [(t, passed.scores[t] + second[t]) for t in kept] + [(t, s) for t, s in fused.items() if s >= threshold]
        out.append([
            {"h": h, "t": t, "r": r, "score": round(score, 6), "evidence": passed.evidence.get((h, t), [])}
            for (h, t, r), score in sorted(chosen)
        ])
    return out


def best_threshold(kept_correct: int, kept_total: int, candidates: list[tuple[float, bool]], gold_total: int) -> tuple[float, float]:
    """DREEAM's ``select_thresh``: candidates by score, descending; the prefix with the best F1
    (counting the always-kept triples); returns (threshold = score of its last candidate, F1)."""
    correct, predicted = kept_correct, kept_total
    best_f1, best_score = -1.0, float("inf")
    for score, is_correct in sorted(candidates, key=lambda c: -c[0]):
        correct += is_correct
        predicted += 1
        p, r = correct / predicted, correct / gold_total if gold_total else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best_f1:
            best_f1, best_score = f1, score
    return best_score, max(best_f1, 0.0)


def threshold_file(threshold: float, f1: float) -> bytes:
    """The content of ``isf_threshold.json`` (strict JSON: a threshold is always finite)."""
    return json.dumps({"threshold": threshold, "dev_f1": f1}, allow_nan=False).encode("utf-8")


def saved_threshold(model_dir: str | Path) -> float:
    """The threshold ``isf-tune`` saved; a file that is not one is bad input naming it."""
    path = Path(model_dir) / THRESHOLD_FILE
    if not path.is_file():
        raise UsageError(f"--isf: {path} is missing; run `llmkit docre isf-tune --model {model_dir} --dev DEV` first, or pass --isf-threshold")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["threshold"]
    except (ValueError, KeyError, TypeError) as exc:  # not JSON, not UTF-8, no key, not an object
        raise InputError(f"{path}: not a saved ISF threshold ({exc}); run `llmkit docre isf-tune` again") from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{path}: 'threshold' must be a finite number, got {value!r}; run `llmkit docre isf-tune` again")
    return float(value)


def tune(predictor: Predictor, documents: list[Document], batch_size: int = 16) -> tuple[float, float]:
    """Choose the fused-score threshold that maximises dev F1 (documents with gold facts)."""
    if not documents:
        raise InputError("isf-tune: no usable dev document")
    kept_correct = kept_total = gold_total = 0
    candidates: list[tuple[float, bool]] = []
    names = predictor.relations.names
    for start in range(0, len(documents), batch_size):
        batch = documents[start : start + batch_size]
        for document, first in zip(batch, predictor.first_pass(batch), strict=True):
            gold = {(f.head, f.tail, names[f.relation]) for f in document.facts}
            gold_total += len(gold)
            kept, fused = fused_candidates(first.scores, second_pass(predictor, document, first))
            kept_total += len(kept)
            kept_correct += sum(t in gold for t in kept)
            candidates.extend((score, t in gold) for t, score in fused.items())
    if not gold_total:
        raise InputError("isf-tune: the dev documents hold no relation, so no threshold has a better F1 than another")
    threshold, f1 = best_threshold(kept_correct, kept_total, candidates, gold_total)
    if not math.isfinite(threshold):
        raise InputError("isf-tune: no dev document has an entity pair to score, so there is no threshold to choose")
    return threshold, f1
