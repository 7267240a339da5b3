"""Detection metrics from scores (higher = member) and 0/1 labels, with numpy only.

The ROC curve has one point per distinct score threshold ("member when score >= threshold"),
plus (0, 0); tied scores move along a diagonal, so the trapezoid area equals the Mann-Whitney
AUC with ties counted one half (what sklearn.metrics.roc_auc_score gives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Roc:
    fpr: np.ndarray
    tpr: np.ndarray
    positives: int
    negatives: int


def roc_curve(scores: Sequence[float], labels: Sequence[int]) -> Roc:
    score = np.asarray(scores, dtype=float)
    label = np.asarray(labels, dtype=int)
    positives = int(label.sum())
    negatives = len(label) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("need both classes")
    order = np.argsort(-score, kind="mergesort")
    score, label = score[order], label[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tp = np.cumsum(label)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return Roc(np.r_[0.0, fp / negatives], np.r_[0.0, tp / positives], positives, negatives)


def auc(roc: Roc) -> float:
    return float(np.sum(np.diff(roc.fpr) * (roc.tpr[1:] + roc.tpr[:-1]) / 2))


def tpr_at_fpr(roc: Roc, target: float) -> float:
    """The largest TPR among the curve's points with FPR <= target (no interpolation)."""
    return float(roc.tpr[roc.fpr <= target + 1e-12].max())


def best_accuracy(roc: Roc) -> float:
    """Best (TP + TN) / N over all thresholds, "everything a non-member" included."""
    n = roc.positives + roc.negatives
    correct = roc.tpr * roc.positives + (1.0 - roc.fpr) * roc.negatives
    return float(correct.max() / n)


@dataclass(frozen=True, slots=True)
class Report:
    method: str
    n: int
    members: int
    nonmembers: int
    auc: float
    tpr_at_1pct_fpr: float
    tpr_at_5pct_fpr: float
    tpr_at_10pct_fpr: float
    best_accuracy: float


def report(method: str, scores: Sequence[float], labels: Sequence[int], compat: str = "llmkit") -> Report:
    """The metrics of one method; ``compat="official"`` takes TPR@10%FPR as the SaMIA code does
    (the ROC point nearest 10% FPR, :func:`llmkit_mia.official.tpr_nearest`)."""
    from llmkit_mia import official

    roc = roc_curve(scores, labels)
    tpr10 = official.tpr_nearest(scores, labels, 0.10) if compat == "official" else tpr_at_fpr(roc, 0.10)
    return Report(
        method=method,
        n=len(scores),
        members=roc.positives,
        nonmembers=roc.negatives,
        auc=auc(roc),
        tpr_at_1pct_fpr=tpr_at_fpr(roc, 0.01),
        tpr_at_5pct_fpr=tpr_at_fpr(roc, 0.05),
        tpr_at_10pct_fpr=tpr10,
        best_accuracy=best_accuracy(roc),
    )
