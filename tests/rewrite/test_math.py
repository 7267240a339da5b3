"""rewrite-math on scripted answers, and end to end on the tiny hf model."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

import llmkit
from llmkit_rewrite_math.rewrite import MathRewriteStep

from llmkit.testing import ScriptedBackend

PAGE = "Home | Forum | Login\nPosted 2014-03-02\nQ: what is 12 * 7?\nA: 84\nCookies help us deliver our services."
GOOD = ("Problem: Compute 12 x 7.\n\nStep 1: 12 x 7 = 10 x 7 + 2 x 7 = 70 + 14.\n"
        "Step 2: 70 + 14 = 84.\n\nFinal answer: 84")


def run(replies, records=None, finish="stop", **kwargs):
    backend = ScriptedBackend(replies, max_model_len=kwargs.pop("max_model_len", None))
    if finish != "stop":
        original = backend.generate

        def generate(prompts, params):
            results = original(prompts, params)
            for result in results:
                for completion in result.completions:
                    completion.finish_reason = finish
            return results

        backend.generate = generate
    step = MathRewriteStep("text", llmkit.BackendOptions(model="x"), backend=backend, **kwargs)
    step.open()
    return step.process(records or [{"id": 1, "text": PAGE}]), backend


def test_rewrite_replaces_the_text_with_swallowmath_defaults():
    (out,), backend = run([GOOD + "\n"], keep_original=True)
    assert out == {"id": 1, "text": GOOD, "original_text": PAGE}
    params = backend.params[0]
    assert (params.temperature, params.top_p, params.max_tokens) == (0.2, 0.7, 8192)
    assert PAGE in backend.prompts[0][0]["content"]


@pytest.mark.parametrize(("reply", "reason"), [("84", "too_short"), ("the answer is 84 " * 30, "repetition")])
def test_post_filters(reply, reason):
    (out,), _ = run([reply])
    assert out.reason == reason


def test_truncated_too_long_and_missing_field():
    (out,), _ = run([GOOD], finish="length")
    assert out.reason == "truncated"
    (out,), _ = run([GOOD], max_model_len=40)
    assert out.reason == "too_long"
    outs, backend = run([GOOD], records=[{"id": 1}, {"id": 2, "text": None}, {"id": 3, "text": PAGE}])
    assert [o.reason for o in outs[:2]] == ["missing_field", "missing_field"] and outs[2]["text"] == GOOD
    assert len(backend.prompts) == 1


def test_prompt_file(tmp_path):
    mine = tmp_path / "p.txt"
    mine.write_text("Clean this up: {text}")
    _, backend = run([GOOD], prompt_file=mine)
    assert backend.prompts[0][0]["content"] == f"Clean this up: {PAGE}"


@pytest.mark.slow  # generates with a model in a child llmkit
def test_end_to_end_on_tiny_llama_hf(tmp_path, tiny_llama):
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"".join(orjson.dumps({"id": i, "text": PAGE}) + b"\n" for i in range(2)))
    done = subprocess.run([sys.executable, "-m", "llmkit", "rewrite-math", "--model", str(tiny_llama), "--backend", "hf",
                           "--max-tokens", "16", "--seed", "0", "-i", str(data), "--rejects", str(tmp_path / "rej.jsonl")],
                          capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    outs = [orjson.loads(x) for x in done.stdout.splitlines()]
    rejects = [orjson.loads(x) for x in (tmp_path / "rej.jsonl").read_bytes().splitlines()]
    assert len(outs) + len(rejects) == 2
    # 16 new tokens from a random model: cut off at the limit (truncated) or a short/odd answer
    assert {r["reject"]["reason"] for r in rejects} <= {"truncated", "too_short", "repetition"}


@pytest.mark.slow  # trains a tiny model
def test_end_to_end_a_useful_answer_is_kept(tmp_path, tiny_llama):
    """The tiny model taught SwallowMath's kind of answer for this page: kept whole, on hf."""
    from tests.teach import teach

    prompt = llmkit.load_prompt("llmkit_rewrite_math", "rewrite", required={"text"}).render(text=PAGE)
    model = teach(tiny_llama, [prompt], GOOD, tmp_path / "math_teacher")
    data = tmp_path / "in.jsonl"
    data.write_bytes(orjson.dumps({"id": 1, "text": PAGE}) + b"\n")
    done = subprocess.run([sys.executable, "-m", "llmkit", "rewrite-math", "--model", str(model), "--backend", "hf",
                           "--temperature", "0", "--max-tokens", "120", "-i", str(data), "-q"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    (out,) = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert out["text"] == GOOD
