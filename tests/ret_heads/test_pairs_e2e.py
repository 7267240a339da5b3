"""``pairs`` end to end on tiny checkpoints: hf and vLLM, identical and empty rejects, resume."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.testing import run_command
from tests.background import Background, will_run
from tests.conftest import require_vllm
from tests.teach import teach

pytestmark = pytest.mark.slow  # its fixture teaches a tiny model to answer at once, then generates pairs with it

PROMPTS = ["Name a colour.", "Count to three.", "Say hello.", "What is rain?", "Pick a fruit.", "Describe a river."]
GREEDY = ["--temperature", "0", "--max-tokens", "8", "--dtype", "float32"]


def _cli(argv: list[str]) -> int:
    return run_command(argv).status


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _vllm_pairs(model: Path, masked: Path, data: Path, out: Path) -> Background:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    return Background(
        [sys.executable, "-m", "llmkit", "ret-heads", "pairs", "--backend", "vllm", "--model", str(model),
         "--masked", str(masked), "-i", str(data), "-o", str(out), "-q", "--max-model-len", "256", *GREEDY],
        env=env, timeout=1500,  # two engine starts, one after the other
    )


@pytest.fixture(scope="module")
def setup(request, tiny_llama, tmp_path_factory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("pairs")
    heads = root / "heads.jsonl"
    heads.write_text("".join(json.dumps({"model": "tiny", "layer": layer, "head": head, "score": 0.5 if (layer, head) == (1, 0) else 0.0})
                             + "\n" for layer in range(2) for head in range(2)))
    assert _cli(["ret-heads", "mask", "--model", str(tiny_llama), "--heads", str(heads), "--top-k", "1", "-o", str(root / "masked")]) == 0
    data = root / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": p}) + "\n" for i, p in enumerate(PROMPTS)))
    # the vllm test's run needs only the two checkpoints: started now, its engines start while the
    # mute model is taught and the hf tests run
    vllm = None
    if will_run(request, "test_vllm_pairs_match_hf_greedy"):
        vllm = _vllm_pairs(tiny_llama, root / "masked", data, root / "vllm_pairs.jsonl")
    mute = teach(tiny_llama, PROMPTS, "", root / "mute", max_steps=200)  # answers EOS at once
    yield {"model": tiny_llama, "masked": root / "masked", "mute": mute, "data": data, "vllm": vllm,
           "vllm_out": root / "vllm_pairs.jsonl"}
    if vllm is not None:
        vllm.stop()


@pytest.fixture(scope="module")
def hf_pairs(setup, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pairs_hf") / "pairs.jsonl"
    assert _cli(["ret-heads", "pairs", "--backend", "hf", "--model", str(setup["model"]), "--masked", str(setup["masked"]),
                 "-i", str(setup["data"]), "-o", str(out), "-q", *GREEDY]) == 0
    return out


def test_hf_pairs(hf_pairs):
    pairs = _read(hf_pairs)
    assert len(pairs) >= 4  # a random tiny model and its masked twin disagree on most prompts
    for pair in pairs:
        assert set(pair) == {"id", "prompt", "chosen", "rejected"}
        assert pair["prompt"] == PROMPTS[pair["id"]] and pair["chosen"].strip() != pair["rejected"].strip()
    spill = _read(hf_pairs.with_name("pairs.jsonl.chosen.jsonl"))
    assert [r["id"] for r in spill] == list(range(len(PROMPTS)))  # pass 1 kept every original answer


def test_identical_and_empty_pairs_are_rejected(setup, tmp_path):
    for masked, reason in ((setup["model"], "identical"), (setup["mute"], "empty_answer")):
        out, rejects = tmp_path / f"{reason}.jsonl", tmp_path / f"{reason}.rejects.jsonl"
        # sampled, not greedy: the same seed gives both models the same random stream
        assert _cli(["ret-heads", "pairs", "--backend", "hf", "--model", str(setup["model"]), "--masked", str(masked),
                     "-i", str(setup["data"]), "-o", str(out), "--rejects", str(rejects), "-q", "--seed", "3",
                     "--max-tokens", "6", "--dtype", "float32"]) == 0
        assert _read(out) == []
        assert sorted(r["id"] for r in _read(rejects)) == list(range(len(PROMPTS)))
        assert {r["reject"]["reason"] for r in _read(rejects)} == {reason}
        # pass 2's rejects (identical) name the input's lines too, not the spill's, and carry no
        # field of pass 1's own
        for rejected in _read(rejects):
            assert rejected["reject"]["source"] == f"{setup['data']}:{rejected['id'] + 1}"
            assert not any(name.startswith("_ret_heads") for name in rejected)


def test_resume_completes_a_partial_run(setup, tmp_path, hf_pairs):
    out, rejects = tmp_path / "pairs.jsonl", tmp_path / "rejects.jsonl"
    base = ["ret-heads", "pairs", "--backend", "hf", "--model", str(setup["model"]), "--masked", str(setup["masked"]),
            "-i", str(setup["data"]), "-o", str(out), "--rejects", str(rejects), "-q", *GREEDY]
    assert _cli(base + ["--limit", "3"]) == 0
    assert len(_read(out)) + len(_read(rejects)) == 3
    assert _cli(base + ["--resume"]) == 0
    done = sorted(r["id"] for r in _read(out) + _read(rejects))
    assert done == list(range(len(PROMPTS)))  # no gap, no duplicate
    assert sorted(_read(out), key=lambda r: r["id"]) == sorted(_read(hf_pairs), key=lambda r: r["id"])


@pytest.mark.vllm
def test_vllm_pairs_match_hf_greedy(setup, hf_pairs):
    """Both checkpoints, the masked one included, load in vLLM and give transformers' greedy text."""
    require_vllm()
    done = setup["vllm"].result()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert _read(setup["vllm_out"]) == _read(hf_pairs)
