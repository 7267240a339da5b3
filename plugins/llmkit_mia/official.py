"""The rules of the methods' official code, for ``--compat official`` (each beside what it reproduces).

SaMIA (nlp-titech/samia, ``src/sampling.py`` and ``src/eval_samia.py``):

- the prompt is the first ``int(L x ratio)`` words of ``text.split()`` joined by single spaces,
  L = ``len(text.split())`` (the same as llmkit's floor);
- words for scoring are ``text.split(" ")`` without the empty strings: a newline or a tab stays
  inside a word ("end.\\nNext" is one word);
- the reference is those words of the text from index ``round(L x 0.5)`` on (Python's round, half
  to even; 0.5 whatever the prefix ratio), L the nominal length: WikiMIA's texts have exactly their
  nominal word count, so here L is the text's own ``len(text.split())``;
- the sample is the decoded prompt + output, cut the same way: its words from ``round(L x 0.5)``
  on. An output that does not start with a space glues its first word to the prompt's last one;
- ROUGE-N recall divides the clipped n-gram matches by the number of reference *words*, and is 0
  when the sample or the reference has no word;
- samia-zlib multiplies by the zlib size of the sample's words joined by single spaces;
- generation stops at 1,024 tokens including the prompt (``max_length=1024``).

Min-K% and Min-K%++ (zjysteven/mink-plus-plus ``run.py``; the Min-K% code of Shi et al. has the
same count rule): the mean of the lowest ``int(T x k)`` values, an empty mean (NaN) when that is 0.

TPR at 10% FPR as the SaMIA code reports it: sklearn's ``roc_curve`` (its default
``drop_intermediate=True``), then the TPR of the point whose FPR is nearest 0.10 (the first such
point on a tie, as ``np.argmin`` takes).
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence

#: SaMIA's generate call: prompt and output together at most this many tokens
MAX_LENGTH = 1024
#: the reference starts at round(L x REFERENCE_RATIO), whatever --prefix-ratio is
REFERENCE_RATIO = 0.5


def words(text: str) -> list[str]:
    """``text.split(" ")`` without empty strings: newlines and tabs stay inside words."""
    return [w for w in text.split(" ") if w != ""]


def prompt_of(text: str, prefix_ratio: float) -> str:
    """The first int(L x ratio) whitespace words joined by single spaces ('' when none)."""
    parts = text.split()
    return " ".join(parts[: int(len(parts) * prefix_ratio)])


def reference_start(text: str) -> int:
    """round(L x 0.5), L = the text's whitespace word count (its nominal length on WikiMIA)."""
    return round(len(text.split()) * REFERENCE_RATIO)


def cut(text: str, start: int) -> list[str]:
    """The words of ``text`` from index ``start`` on."""
    return words(text)[start:]


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int = 1) -> float:
    """Clipped n-gram matches / number of reference words; 0 when either side has no word."""
    if not candidate or not reference:
        return 0.0

    def grams(seq: Sequence[str]) -> Counter[tuple[str, ...]]:
        return Counter(tuple(seq[i : i + n]) for i in range(len(seq) - n + 1))

    return sum((grams(reference) & grams(candidate)).values()) / len(reference)


def samia_scores(text: str, prompt: str, outputs: Sequence[str], ngram: int) -> tuple[float, float]:
    """(samia, samia-zlib) of one text from its sampled outputs (each decoded after ``prompt``)."""
    if not outputs:
        raise ValueError("no outputs")
    start = reference_start(text)
    reference = cut(text, start)
    plain, with_zlib = 0.0, 0.0
    for output in outputs:
        sample = cut(prompt + output, start)
        recall = rouge_n(sample, reference, ngram)
        plain += recall
        with_zlib += recall * len(zlib.compress(" ".join(sample).encode("utf-8")))
    return plain / len(outputs), with_zlib / len(outputs)


def token_budget(prompt_tokens: int, context: int | None) -> int:
    """New tokens SaMIA's ``max_length=1024`` leaves after the prompt (capped at the model's
    context, which a model shorter than 1,024 positions could not exceed anyway); at least 1."""
    limit = MAX_LENGTH if context is None else min(MAX_LENGTH, context)
    return max(1, limit - prompt_tokens)


def lowest_k_mean(values: Sequence[float], k: float) -> float | None:
    """Mean of the int(k x len) smallest values; None where the official code's mean is empty."""
    count = int(len(values) * k)
    if count == 0:
        return None
    return sum(sorted(values)[:count]) / count


def tpr_nearest(scores: Sequence[float], labels: Sequence[int], target: float = 0.10) -> float:
    """The TPR of sklearn's ROC point (intermediate points dropped) whose FPR is nearest ``target``."""
    import numpy as np

    score = np.asarray(scores, dtype=float)
    label = np.asarray(labels, dtype=int)
    order = np.argsort(-score, kind="mergesort")
    score, label = score[order], label[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.cumsum(label)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    # sklearn keeps the ends and every point where the curve bends (second differences non-zero)
    keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
    fps, tps = np.r_[0, fps[keep]], np.r_[0, tps[keep]]
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    return float(tpr[int(np.argmin(np.abs(fpr - target)))])


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
