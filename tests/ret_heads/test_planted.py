"""A planted effect: a tiny byte-level model taught to retrieve a key's value from its context.

detect, fed needles and a haystack in the trained format, must find heads with a high copy
score; masking them must break retrieval (near the chance of 1 in 10 digits); masking as many
random non-retrieval heads must not.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from llmkit.testing import run_command
from tests.ret_heads.planted import accuracy, build_base, pairs_text, random_pairs, train

pytestmark = pytest.mark.slow  # trains a tiny model to retrieve, then detects and masks its heads

STEPS = 1500  # retrieval forms at about step 700 (lr 1e-3); the rest settles it


def _cli(argv: list[str]) -> int:
    return run_command(argv).status


@pytest.fixture(scope="session")
def planted(tmp_path_factory) -> Path:
    import torch

    root = tmp_path_factory.mktemp("planted")
    base = build_base(root)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model on shared cores: more threads only contend
    try:
        return train(base, root / "model", steps=STEPS)
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def detected(planted, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted_detect")
    rng = random.Random(5)
    # haystack keys upper case, needle keys lower case: a needle's key is nowhere else in the prompt;
    # the haystack is longer than the longest trial, so detect never repeats it
    haystack = root / "haystack.jsonl"
    haystack.write_text(json.dumps({"text": pairs_text(rng, random_pairs(rng, 26, string.ascii_uppercase))}) + "\n")
    needles = root / "needles.jsonl"
    needles.write_text("".join(json.dumps({"context": f"{key}{value}", "question": key, "answer": value}) + "\n"
                               for key, value in random_pairs(rng, 10, string.ascii_lowercase)))
    prompt = root / "prompt.txt"
    prompt.write_text("{context}\n{question}")
    out = root / "heads.jsonl"
    # the stream has no sentence end, so every needle opens its context: depth 0 is the only one
    assert _cli(["ret-heads", "detect", "--model", str(planted), "--haystack", str(haystack), "--needles", str(needles),
                 "--prompt", str(prompt), "--no-chat", "--lengths", "16,28,40", "--depths", "0", "--max-tokens", "1",
                 "-o", str(out), "-q"]) == 0
    return out


def _accuracy(path: Path) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return accuracy(AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path))


def _records(path: Path) -> tuple[list[dict], dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return records[:-1], records[-1]


def test_the_planted_model_retrieves(planted):
    assert _accuracy(planted) >= 0.8


def test_detect_finds_retrieval_heads(detected):
    heads, summary = _records(detected)
    assert len(heads) == 12 and summary["type"] == "summary"
    assert summary["trials_counted"] >= 0.8 * summary["trials_run"]  # the model answers most needles
    scores = sorted((h["score"] for h in heads), reverse=True)
    assert scores[0] >= 0.5, scores
    assert 1 <= summary["retrieval_heads"] <= 4, scores  # a few heads, not all of them


def test_masking_retrieval_heads_breaks_retrieval_and_random_heads_do_not(planted, detected, tmp_path):
    heads, _ = _records(detected)
    retrieval = {(h["layer"], h["head"]) for h in heads if h["retrieval"]}
    base = ["ret-heads", "mask", "--model", str(planted), "--heads", str(detected), "--threshold", "0.1"]
    assert _cli([*base, "-o", str(tmp_path / "masked")]) == 0
    assert _cli([*base, "--random", "--seed", "0", "-o", str(tmp_path / "control")]) == 0
    control = json.loads((tmp_path / "control" / "masked_heads.json").read_text())
    assert len(control["heads"]) == len(retrieval)
    assert not {tuple(h) for h in control["heads"]} & retrieval
    masked, kept = _accuracy(tmp_path / "masked"), _accuracy(tmp_path / "control")
    assert masked <= 0.3, masked  # chance is 0.1
    assert kept >= 0.7, kept
