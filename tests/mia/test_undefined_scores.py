"""A text too short for Min-K% under `--compat official` keeps its defined scores.

The official rule (Min-K%-Prob ``src/run.py`` and Min-K%++ ``run.py``, as issue 28 states it):
Min-K% averages the lowest ``int(k x T)`` token values, NaN when that count is 0; the loss and
zlib scores are defined for any text with a token. The record keeps what is defined, writes
``null`` for what is not with the reason in ``mia_undefined``, and goes to the rejects only when
no asked score is defined.
"""

from __future__ import annotations

import math
import warnings
import zlib

import numpy as np
import pytest

from llmkit import Reject
from llmkit.testing import ScriptedBackend

from .test_official import Scoring, run

SHORT = "a b c d"  # 4 tokens at -1..-4: int(4 x 0.2) = 0


def official_scores(logprobs, text, k):
    """loss, zlib (log-perplexity / zlib bytes, negated: higher = member), mink by the official count."""
    loss = float(np.mean(logprobs))
    count = int(len(logprobs) * k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice": the official NaN
        mink = float(np.mean(np.sort(logprobs)[:count])) if count else float(np.mean(np.array([])))
    return {"loss": loss, "zlib": loss / len(zlib.compress(text.encode("utf-8"))), "mink": mink}


def test_a_short_text_keeps_loss_and_zlib_with_null_mink_and_the_reason():
    logprobs = [-1.0, -2.0, -3.0, -4.0]
    want = official_scores(logprobs, SHORT, 0.2)
    assert math.isnan(want["mink"])  # the official code really has no Min-K% here
    [out] = run(Scoring([]), [{"input": SHORT, "id": 7}], methods="loss,zlib,mink,minkpp", mink_k=0.2, compat="official")
    assert out["id"] == 7
    assert out["mia"]["loss"] == pytest.approx(want["loss"])
    assert out["mia"]["zlib"] == pytest.approx(want["zlib"])
    assert out["mia"]["mink"] is None and out["mia"]["minkpp"] is None
    assert set(out["mia_undefined"]) == {"mink", "minkpp"}
    assert "int(0.2 x 4 tokens) = 0" in out["mia_undefined"]["mink"]


def test_rejected_only_when_no_asked_score_is_defined():
    [out] = run(Scoring([]), [{"input": SHORT}], methods="mink,minkpp", mink_k=0.2, compat="official")
    assert isinstance(out, Reject) and out.reason == "too_short"


def test_a_samia_score_counts_as_defined():
    backend = ScriptedBackend(lambda prompt: " c d")
    backend.can_score = True
    backend.score = Scoring([]).score  # type: ignore[method-assign]
    [out] = run(backend, [{"input": SHORT}], methods="samia,mink", num_samples=1, mink_k=0.2, compat="official")
    assert out["mia"]["samia"] == pytest.approx(1.0) and out["mia"]["mink"] is None
    assert set(out["mia_undefined"]) == {"mink"}


def test_a_long_enough_text_has_no_undefined_field_and_a_rerun_clears_an_old_reason():
    ten = " ".join(f"w{i}" for i in range(10))
    [out] = run(Scoring([]), [{"input": ten, "mia_undefined": {"mink": "old"}, "mia": {"mink": None}}],
                methods="mink", mink_k=0.2, compat="official")
    assert out["mia"]["mink"] == pytest.approx(-9.5) and "mia_undefined" not in out


def test_eval_skips_the_null_scores():
    from llmkit_mia.evaluate import EvalStep

    rows = run(Scoring([]), [{"input": SHORT, "label": 1}, {"input": " ".join(["w"] * 10), "label": 0}],
               methods="loss,mink", mink_k=0.2, compat="official")
    step = EvalStep(show_table=False, compat="official")
    assert step.process(rows) == [None, None]
    assert len(step.scores["loss"]) == 2 and len(step.scores["mink"]) == 1


def test_an_input_field_named_like_the_reasons_is_not_overwritten():
    [out] = run(Scoring([]), [{"input": SHORT, "mia_undefined": "mine"}], methods="loss", compat="official")
    assert isinstance(out, Reject) and out.reason == "field_exists"
