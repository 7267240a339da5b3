"""`mia score` logic on scripted backends: requests, defaults, scores, rejects, capability errors."""

from __future__ import annotations

import pytest

from llmkit import BackendOptions, Reject, UsageError
from llmkit.backends import TokenScores
from llmkit_mia.score import ScoreConfig, ScoreStep, parse_methods
from llmkit.testing import ScriptedBackend

TEXT = "alpha beta gamma delta epsilon zeta"  # prefix "alpha beta gamma", reference delta epsilon zeta


class ScoringBackend(ScriptedBackend):
    """Scripted generation plus teacher-forced log-probs of -1, -2, ... per word."""

    name = "scoring"
    can_score = True

    def score(self, texts):
        out = []
        for text in texts:
            words = text.split()
            if text == "too long text":
                out.append(TokenScores([], [], error="too_long", detail="longer than the context"))
                continue
            out.append(TokenScores(list(range(len(words))), [-(i + 1.0) for i in range(len(words))]))
        return out


def _step(backend, options=None, **config):
    step = ScoreStep(options or BackendOptions(), ScoreConfig(**config), backend=backend)
    step.open()
    return step


def test_one_request_with_n_samples_per_text_and_samia_defaults():
    answers = iter([" delta epsilon zeta", " delta x y", " q r s"] * 2)
    backend = ScriptedBackend(lambda prompt: next(answers))
    step = _step(backend, num_samples=3, methods="samia,samia-zlib", keep_samples=True)
    out = step.process([{"id": 1, "input": TEXT}, {"id": 2, "input": TEXT}])
    assert backend.calls == 1 and backend.prompts == ["alpha beta gamma"] * 2
    params = backend.params[0]
    assert (params.n, params.temperature, params.top_k, params.top_p) == (3, 1.0, 50, 1.0)
    # no tokenizer: ceil(len(" delta epsilon zeta") / 3) = 7 tokens -> 2 x 7 = 14 -> 16
    assert params.max_tokens == 16
    assert out[0]["mia"]["samia"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert out[0]["id"] == 1 and out[0]["input"] == TEXT
    assert out[0]["mia_samples"] == [" delta epsilon zeta", " delta x y", " q r s"]
    assert list(out[0]["mia"]) == ["samia", "samia-zlib"]


def test_user_sampling_options_override_defaults():
    backend = ScriptedBackend(lambda prompt: " x")
    options = BackendOptions(temperature=0.7, top_k=0, max_tokens=99, seed=3)
    _step(backend, options, num_samples=2).process([{"input": TEXT}])
    params = backend.params[0]
    assert (params.temperature, params.top_k, params.max_tokens, params.seed, params.n) == (0.7, 0, 99, 3, 2)


def test_texts_with_different_budgets_go_in_one_call_per_budget():
    backend = ScriptedBackend(lambda prompt: " x")
    long_text = " ".join(f"word{i}" for i in range(60))
    _step(backend, num_samples=1).process([{"input": TEXT}, {"input": long_text}, {"input": TEXT}])
    assert backend.calls == 2
    assert sorted(p.max_tokens for p in backend.params)[0] == 16


def test_bad_records_are_rejected_and_others_scored():
    backend = ScriptedBackend(lambda prompt: " delta", max_model_len=20)
    long_prefix = " ".join(["verylongword"] * 8)
    out = _step(backend, num_samples=1).process([
        {"input": "single"}, {"text": TEXT}, {"input": 5}, {"input": "  "}, {"input": long_prefix}, {"input": TEXT},
    ])
    assert [o.reason if isinstance(o, Reject) else "ok" for o in out] == [
        "too_short", "missing_field", "missing_field", "too_short", "too_long", "ok",
    ]
    assert out[-1]["mia"]["samia"] == pytest.approx(1 / 3)


def test_likelihood_methods_on_a_backend_without_logprobs_fail_clearly():
    with pytest.raises(UsageError, match=r"'scripted' backend cannot give token log-probabilities.*loss, mink"):
        _step(ScriptedBackend([]), methods="samia,loss,mink")


def test_likelihood_scores_and_merge_into_existing_scores():
    step = _step(ScoringBackend([]), methods="loss,mink,zlib", mink_k=0.5)
    out = step.process([{"input": "a b c d", "mia": {"samia": 0.25}}, {"input": "too long text"}])
    scores = out[0]["mia"]
    assert scores["samia"] == 0.25  # kept from an earlier run
    assert scores["loss"] == pytest.approx(-2.5)
    assert scores["mink"] == pytest.approx((-4 - 3) / 2)
    import zlib

    assert scores["zlib"] == pytest.approx(-2.5 / len(zlib.compress(b"a b c d")))
    assert list(scores) == ["samia", "loss", "zlib", "mink"]
    assert isinstance(out[1], Reject) and out[1].reason == "too_long"


def test_an_existing_mia_that_is_not_scores_is_rejected_not_overwritten():
    backend = ScoringBackend(lambda prompt: " delta epsilon zeta")
    step = _step(backend, methods="loss,samia", num_samples=1)
    records = [{"id": 1, "input": TEXT, "mia": "member"}, {"id": 2, "input": TEXT, "mia": None},
               {"id": 3, "input": TEXT, "mia": {"zlib": 0.5}}]
    out = step.process(records)
    for rejected in out[:2]:
        assert isinstance(rejected, Reject) and rejected.reason == "field_exists" and "'mia'" in rejected.detail
    assert records[0]["mia"] == "member"
    assert out[2]["mia"] == {"samia": 1.0, "loss": -3.5, "zlib": 0.5}  # an object of scores is merged on purpose
    assert backend.prompts == ["alpha beta gamma"]  # the rejected records never reached the model


def test_keep_samples_replaces_earlier_samples_but_not_other_data():
    backend = ScriptedBackend(lambda prompt: " delta")
    step = _step(backend, num_samples=1, keep_samples=True)
    out = step.process([{"input": TEXT, "mia_samples": [" old"]}, {"input": TEXT, "mia_samples": "notes"}])
    assert out[0]["mia_samples"] == [" delta"]  # an earlier run's samples: replaced with this run's
    assert isinstance(out[1], Reject) and out[1].reason == "field_exists" and "'mia_samples'" in out[1].detail
    # without --keep-samples the field is not written, so any value passes through
    out = _step(ScriptedBackend(lambda prompt: " delta"), num_samples=1).process([{"input": TEXT, "mia_samples": "notes"}])
    assert out[0]["mia_samples"] == "notes"


def test_fewer_than_two_words_is_too_short_for_every_method():
    out = _step(ScoringBackend([]), methods="loss").process([{"input": "word"}, {"input": "two words"}])
    assert isinstance(out[0], Reject) and out[0].reason == "too_short" and out[0].detail == "needs at least 2 words"
    assert out[1]["mia"]["loss"] == pytest.approx(-1.5)


def test_a_reference_shorter_than_the_ngram_is_too_short():
    backend = ScriptedBackend(lambda prompt: " d e f")
    out = _step(backend, num_samples=1, ngram=3).process([{"input": "a b c d"}, {"input": "a b c d e f"}])
    assert isinstance(out[0], Reject) and out[0].reason == "too_short"  # reference "c d": no trigram
    assert out[1]["mia"]["samia"] == 1.0  # reference "d e f": one trigram, matched


def test_methods_parsing():
    assert parse_methods("samia, loss,samia") == ("samia", "loss")
    with pytest.raises(UsageError, match="unknown nope"):
        parse_methods("samia,nope")


@pytest.mark.parametrize("config", [{"prefix_ratio": 1.0}, {"num_samples": 0}, {"mink_k": 0.0}, {"ngram": 0}])
def test_bad_options_are_usage_errors(config):
    with pytest.raises(UsageError):
        ScoreStep(BackendOptions(), ScoreConfig(**config))


def test_chat_is_refused():
    with pytest.raises(UsageError, match="--chat"):
        _step(ScriptedBackend([]), BackendOptions(chat=True))
