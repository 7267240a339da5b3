"""SaMIA (Kaneko et al., 2024): membership from sampled continuations only, no likelihoods.

The text is split into whitespace words; the first floor(ratio x words) words are the prefix the
model continues, the rest is the reference. Each sampled continuation is compared with the
reference by ROUGE-N recall; the score is the mean over samples. samia-zlib multiplies each
sample's recall by the zlib-compressed size of that continuation, as SaMIA's reference code does.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from llmkit_mia.rouge import rouge_n_recall, words_of

#: Continuation budget when the user gives no --max-tokens: this many times the reference's
#: token count, rounded up to a multiple of BUDGET_STEP (so a batch needs few generate calls).
BUDGET_FACTOR = 2.0
BUDGET_STEP = 16
#: Token estimate when the backend has no local tokenizer (openai): UTF-8 bytes per token, low
#: on purpose (English BPE averages about 4), so the budget errs long.
BYTES_PER_TOKEN = 3


@dataclass(frozen=True, slots=True)
class Split:
    prefix: str
    reference: list[str]


def split_text(text: str, prefix_ratio: float, ngram: int = 1) -> Split | None:
    """Prefix (first floor(ratio x words) words, joined by single spaces) and reference words;
    None when the text has fewer than 2 words, the prefix would be empty, or the reference
    would hold no n-gram (fewer than ``ngram`` words: its recall is undefined, not 0)."""
    words = words_of(text)
    cut = math.floor(prefix_ratio * len(words))
    if len(words) < 2 or cut < 1 or len(words) - cut < ngram:
        return None
    return Split(" ".join(words[:cut]), words[cut:])


def zlib_size(text: str) -> int:
    """Bytes of zlib.compress (default level) of the UTF-8 text."""
    return len(zlib.compress(text.encode("utf-8")))


def continuation_zlib_size(continuation: str) -> int:
    """SaMIA's reference code compresses the candidate's words joined by single spaces."""
    return zlib_size(" ".join(words_of(continuation)))


def samia_score(continuations: Sequence[str], reference: Sequence[str], ngram: int = 1) -> float:
    """Mean over samples of ROUGE-N recall of each continuation against the reference words."""
    if not continuations:
        raise ValueError("no continuations")
    return sum(rouge_n_recall(words_of(c), reference, ngram) for c in continuations) / len(continuations)


def samia_zlib_score(continuations: Sequence[str], reference: Sequence[str], ngram: int = 1) -> float:
    """Mean over samples of recall x zlib-compressed bytes of the continuation."""
    if not continuations:
        raise ValueError("no continuations")
    total = sum(
        rouge_n_recall(words_of(c), reference, ngram) * continuation_zlib_size(c) for c in continuations
    )
    return total / len(continuations)


def token_budget(reference_tokens: int) -> int:
    """Default max_tokens for one text: BUDGET_FACTOR x reference tokens, up to a BUDGET_STEP multiple."""
    wanted = max(1, math.ceil(BUDGET_FACTOR * reference_tokens))
    return BUDGET_STEP * math.ceil(wanted / BUDGET_STEP)


def count_reference_tokens(reference: Sequence[str], tokenizer: object | None) -> int:
    """Tokens of the reference as it follows the prefix (with its leading space)."""
    text = " " + " ".join(reference)
    if tokenizer is None:
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)
    return len(tokenizer.encode(text, add_special_tokens=False))  # type: ignore[attr-defined]
