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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit import UsageError
from llmkit_docre.data import Document, parse_document

if TYPE_CHECKING:
    from llmkit_docre.predict import PredictStep

Triple = tuple[int, int, str]
PENALTY = 10.0
THRESHOLD_FILE = "isf_threshold.json"


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


def two_passes(step: PredictStep, documents: list[Document]) -> list[tuple[dict[Triple, float], dict[Triple, float], dict[tuple[int, int], list[int]]]]:
    """Per document: first-pass candidates, best pseudo-document candidates, first-pass pair evidence."""
    from llmkit_docre.infer import pair_candidates

    model, relations = step.model, step.relations
    features = [step.featurize(d, with_labels=False) for d in documents]
    first = pair_candidates(model, features, relations, step.settings.num_labels, step.threshold)  # type: ignore[arg-type]
    results = []
    for document, (cands, evidence) in zip(documents, first, strict=True):
        # DREEAM builds pseudo-documents from its top-k file, which holds every pair, positive or
        # not: a pair the first pass missed still gets its evidence re-read
        every_pair = [{"h": h, "t": t, "evidence": ev} for (h, t), ev in evidence.items()]
        pseudo: list[tuple[Document, list[int]]] = [p for g in sentence_groups(document, every_pair) if (p := pseudo_document(document, g))]
        second: dict[Triple, float] = {}
        if pseudo:
            found = pair_candidates(
                model, [step.featurize(d, with_labels=False) for d, _k in pseudo], relations,  # type: ignore[arg-type]
                step.settings.num_labels, step.threshold,
            )
            for (_doc, kept), (pcands, _ev) in zip(pseudo, found, strict=True):
                for (h, t, r), s in pcands.items():
                    key = (kept[h], kept[t], r)
                    second[key] = max(s, second.get(key, s))
        results.append((cands, second, evidence))
    return results


def fuse(step: PredictStep, documents: list[Document], _first: list[list[dict[str, Any]]], threshold: float) -> list[list[dict[str, Any]]]:
    """The fused predicted triples of each document."""
    out = []
    for cands, second, evidence in two_passes(step, documents):
        kept, fused = fused_candidates(cands, second)
        chosen = [(t, cands[t] + second[t]) for t in kept] + [(t, s) for t, s in fused.items() if s >= threshold]
        out.append([
            {"h": h, "t": t, "r": r, "score": round(score, 6), "evidence": evidence.get((h, t), [])}
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


def save_threshold(model_dir: str | Path, threshold: float, f1: float) -> Path:
    path = Path(model_dir) / THRESHOLD_FILE
    path.write_text(json.dumps({"threshold": threshold, "dev_f1": f1}), encoding="utf-8")
    return path


def saved_threshold(model_dir: str | Path) -> float:
    path = Path(model_dir) / THRESHOLD_FILE
    if not path.is_file():
        raise UsageError(f"--isf: {path} is missing; run `llmkit docre isf-tune --model {model_dir} --dev DEV` first, or pass --isf-threshold")
    return float(json.loads(path.read_text(encoding="utf-8"))["threshold"])


def tune(step: PredictStep, documents: list[Document], batch_size: int = 16) -> tuple[float, float]:
    """Choose the fused-score threshold that maximises dev F1 (documents with gold facts)."""
    kept_correct = kept_total = gold_total = 0
    candidates: list[tuple[float, bool]] = []
    names = step.relations.names
    for start in range(0, len(documents), batch_size):
        batch = documents[start : start + batch_size]
        for document, (first, second, _ev) in zip(batch, two_passes(step, batch), strict=True):
            gold = {(f.head, f.tail, names[f.relation]) for f in document.facts}
            gold_total += len(gold)
            kept, fused = fused_candidates(first, second)
            kept_total += len(kept)
            kept_correct += sum(t in gold for t in kept)
            candidates.extend((score, t in gold) for t, score in fused.items())
    return best_threshold(kept_correct, kept_total, candidates, gold_total)
