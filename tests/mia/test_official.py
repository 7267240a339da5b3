"""`--compat official` reproduces the SaMIA and Min-K%/Min-K%++ code's numbers; the default keeps llmkit's.

Each official rule is written again here from its statement (issue 13), not taken from the plugin:
words are ``split(" ")`` without empty strings, the reference and the sample (prompt + output)
start at round(L x 0.5), recall divides by reference words, Min-K% averages int(T x k) values.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter

import numpy as np
import pytest

from llmkit import BackendOptions, Reject, UsageError
from llmkit.backends import TokenScores
from llmkit.testing import ScriptedBackend
from llmkit_mia.evaluate import EvalStep
from llmkit_mia.score import ScoreConfig, ScoreStep


def sp_words(text):
    return [w for w in text.split(" ") if w]


def official_recall(sample, reference, n=1):
    if not sample or not reference:
        return 0.0
    ref = Counter(zip(*[reference[i:] for i in range(n)]))
    cand = Counter(zip(*[sample[i:] for i in range(n)]))
    return sum((ref & cand).values()) / len(reference)


def official_samia(text, outputs, ratio=0.5, n=1):
    """SaMIA's sampling + evaluation, from the rules: prompt = int(L x ratio) split() words."""
    length = len(text.split())
    prompt = " ".join(text.split()[: int(length * ratio)])
    start = round(length * 0.5)
    reference = sp_words(text)[start:]
    recalls, zipped = [], []
    for out in outputs:
        sample = sp_words(prompt + out)[start:]
        r = official_recall(sample, reference, n)
        recalls.append(r)
        zipped.append(r * len(zlib.compress(" ".join(sample).encode("utf-8"))))
    return prompt, sum(recalls) / len(recalls), sum(zipped) / len(zipped)


def llmkit_samia(text, outputs, ratio=0.5):
    """llmkit's documented rule: split() words, floor cut, recall over reference n-grams."""
    words = text.split()
    cut = math.floor(ratio * len(words))
    reference = words[cut:]
    return sum(sum((Counter(reference) & Counter(o.split())).values()) / len(reference) for o in outputs) / len(outputs)


def run(backend, records, **config):
    step = ScoreStep(BackendOptions(), ScoreConfig(**config), backend=backend)
    step.open()
    return step.process(records)


NEWLINES = "one two three four five six\nseven eight\nnine ten"
PLAIN = "one two three four five six seven eight nine ten"
ODD = "a1 a2 a3 a4 a5 a6 a7"  # L = 7: official reference from round(3.5) = 4, llmkit's from 3


@pytest.mark.parametrize(
    ("text", "outputs"),
    [
        (NEWLINES, [" six seven eight nine ten"]),  # newlines keep words together officially
        (PLAIN, ["six seven eight nine ten", " six seven x"]),  # no leading space: glued to the prompt
        (ODD, [" a4 a5 a6 a7", " a4 x y z"]),
        (PLAIN + "\n\nnext paragraph here", [" six seven eight nine ten\n\nnext paragraph here"]),
    ],
)
def test_samia_official_equals_the_rule_and_default_stays_llmkit(text, outputs):
    prompt, want, want_zlib = official_samia(text, outputs)
    backend = ScriptedBackend(list(outputs) * 2)
    out = run(backend, [{"input": text}], methods="samia,samia-zlib", num_samples=len(outputs), compat="official")
    assert backend.prompts == [prompt]
    assert out[0]["mia"]["samia"] == pytest.approx(want)
    assert out[0]["mia"]["samia-zlib"] == pytest.approx(want_zlib)
    default = run(ScriptedBackend(list(outputs)), [{"input": text}], methods="samia", num_samples=len(outputs))
    assert default[0]["mia"]["samia"] == pytest.approx(llmkit_samia(text, outputs))


def test_the_exposed_differences_are_real():
    # the examples above differ between the two rules (else the test would prove nothing)
    assert official_samia(NEWLINES, [" six seven eight nine ten"])[1] == pytest.approx(1 / 3)
    assert llmkit_samia(NEWLINES, [" six seven eight nine ten"]) == 1.0
    assert official_samia(PLAIN, ["six seven eight nine ten"])[1] == pytest.approx(4 / 5)
    assert official_samia(ODD, [" a4 x y z"])[1] == 0.0 and llmkit_samia(ODD, [" a4 x y z"]) == 0.25


def test_official_bigram_recall_divides_by_reference_words():
    text, outputs = PLAIN, [" six seven eight"]
    _, want, _ = official_samia(text, outputs, n=2)
    assert want == pytest.approx(2 / 5)  # two bigrams matched over five reference words
    out = run(ScriptedBackend(outputs), [{"input": text}], num_samples=1, ngram=2, compat="official")
    assert out[0]["mia"]["samia"] == pytest.approx(want)


class Tokenizing(ScriptedBackend):
    """Scripted generation with a tokenizer that adds a BOS and makes one token per word."""

    def __init__(self, answers, context=None):
        super().__init__(answers)
        self._context = context
        self._tokenizer = lambda text: {"input_ids": [0] + [1] * len(text.split())}

    @property
    def max_model_len(self):
        return self._context


def test_official_budget_is_1024_tokens_with_the_prompt():
    backend = Tokenizing(lambda p: " x")
    run(backend, [{"input": PLAIN}], num_samples=1, compat="official")
    assert backend.params[0].max_tokens == 1024 - (1 + 5)  # BOS + five prompt words
    small = Tokenizing(lambda p: " x", context=256)
    run(small, [{"input": PLAIN}], num_samples=1, compat="official")
    assert small.params[0].max_tokens == 256 - 6


class WithMoments:
    """What a backend's score_distribution gives per text (log-probs and two moments a position)."""

    def __init__(self, scores, mean, std):
        self.token_ids, self.logprobs = scores.token_ids, scores.logprobs
        self.mean_logprobs, self.std_logprobs = mean, std
        self.error = self.detail = None


class Scoring(ScriptedBackend):
    """Log-probs -1, -2, ... one per word; moments mu = 0, sigma = 2 for Min-K%++."""

    can_score = True
    can_score_full = True

    def score(self, texts):
        return [TokenScores(list(range(len(t.split()))), [-(i + 1.0) for i in range(len(t.split()))]) for t in texts]

    def score_distribution(self, texts):
        out = []
        for s in self.score(texts):
            n = len(s.logprobs)
            out.append(WithMoments(s, [0.0] * n, [2.0] * n))
        return out


def test_mink_official_count_is_int_t_k_and_an_empty_mean_is_too_short():
    ten = " ".join(f"w{i}" for i in range(10))
    out = run(Scoring([]), [{"input": ten}, {"input": "a b c d"}], methods="mink,minkpp", mink_k=0.2, compat="official")
    lowest_two = sorted([-(i + 1.0) for i in range(10)])[: int(10 * 0.2)]
    assert out[0]["mia"]["mink"] == pytest.approx(sum(lowest_two) / 2)
    assert out[0]["mia"]["minkpp"] == pytest.approx(sum(v / 2 for v in lowest_two) / 2)
    assert isinstance(out[1], Reject) and out[1].reason == "too_short"  # int(4 x 0.2) = 0: NaN officially
    default = run(Scoring([]), [{"input": "a b c d"}], methods="mink,minkpp", mink_k=0.2)
    assert default[0]["mia"]["mink"] == -4.0  # max(1, ...) = 1 token
    assert default[0]["mia"]["minkpp"] == -2.0


def test_official_scores_one_word_texts_with_the_likelihood_methods():
    out = run(Scoring([]), [{"input": "single"}, {"input": "two words"}], methods="loss,zlib", compat="official")
    assert out[0]["mia"]["loss"] == -1.0
    assert out[1]["mia"]["loss"] == -1.5
    default = run(Scoring([]), [{"input": "single"}], methods="loss")
    assert isinstance(default[0], Reject) and default[0].reason == "too_short"


def test_official_samia_needs_a_prompt_word_only():
    out = run(ScriptedBackend([" x"]), [{"input": "single"}, {"input": "two words"}], num_samples=1, compat="official")
    assert isinstance(out[0], Reject) and out[0].reason == "too_short"
    assert out[1]["mia"]["samia"] == 0.0  # prompt "two", reference ["words"], sample ["x"]


def test_unknown_compat_is_a_usage_error():
    with pytest.raises(UsageError, match="--compat"):
        ScoreConfig(compat="paper")


def _eval(scores, labels, compat):
    step = EvalStep(show_table=False, compat=compat)
    step.process([{"label": y, "mia": {"loss": s}} for s, y in zip(scores, labels, strict=True)])
    return next(iter(step.finish()))


def test_eval_tpr_at_10pct_own_rule_and_official_nearest_point():
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(8, 40))
        labels = [int(x) for x in rng.integers(0, 2, n)]
        labels[0], labels[1] = 0, 1
        scores = [float(x) for x in rng.integers(0, 6, n)]  # many ties
        fpr, tpr, _ = roc_curve(labels, scores)
        nearest = float(tpr[np.argmin(np.abs(fpr - 0.10))])
        assert _eval(scores, labels, "official")["tpr_at_10pct_fpr"] == pytest.approx(nearest), trial
        # own rule: the best TPR over thresholds whose FPR is at most 10%
        negatives, positives = labels.count(0), labels.count(1)
        best = 0.0
        for t in sorted(set(scores)) + [math.inf]:
            fp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= t and y == 0)
            tp = sum(1 for s, y in zip(scores, labels, strict=True) if s >= t and y == 1)
            if fp / negatives <= 0.10 + 1e-12:
                best = max(best, tp / positives)
        assert _eval(scores, labels, "llmkit")["tpr_at_10pct_fpr"] == pytest.approx(best), trial


def test_eval_nearest_point_can_exceed_the_fpr_budget():
    # 7 non-members, one tied with the 10 members: the point nearest 10% FPR lies at 1/7 with TPR 1.0
    labels = [0] * 7 + [1] * 10
    scores = [0.0] * 6 + [2.0] + [2.0] * 10
    assert _eval(scores, labels, "official")["tpr_at_10pct_fpr"] == 1.0
    assert _eval(scores, labels, "llmkit")["tpr_at_10pct_fpr"] == 0.0
