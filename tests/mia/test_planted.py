"""A planted effect: a tiny model fine-tuned to memorise some texts; samia and loss must find them.

One fine-tuned model and one hf run serve the module; the vllm test starts one engine (one CLI run
with every method) and checks its scores against the hf run's.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.testing import run_command
from tests.background import Background, will_run
from tests.conftest import require_vllm

pytestmark = pytest.mark.slow  # trains a tiny model to memorise texts, then scores them on hf and vLLM

WIKIMIA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wikimia" / "wikimia_32.jsonl"
ALL_METHODS = "samia,samia-zlib,loss,zlib,mink,minkpp"
N_EACH = 12


def _texts() -> list[str]:
    """24 texts of 20 words: WikiMIA's when the shared data is there, else made-up sentences."""
    if WIKIMIA.is_file():
        lines = WIKIMIA.read_text().splitlines()[: 2 * N_EACH]
        return [" ".join(json.loads(line)["input"].split()[:20]) for line in lines]
    rng = random.Random(0)
    vocab = "river stone market winter garden council engine harbour festival library orbit signal".split()
    vocab += "north built after during opened named second village record station paper county".split()
    return [" ".join(rng.choice(vocab) for _ in range(20)) for _ in range(2 * N_EACH)]


@pytest.fixture(scope="module")
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: more threads only contend
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def planted(tiny_llama, tmp_path_factory, one_thread) -> tuple[Path, Path]:
    """(model dir, input JSONL): the first 12 texts memorised (label 1), the other 12 held out (0)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = _texts()
    members = texts[:N_EACH]
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    encoded = [tokenizer(t)["input_ids"] for t in members]
    width = max(map(len, encoded))
    ids = torch.tensor([e + [0] * (width - len(e)) for e in encoded])
    mask = torch.tensor([[1] * len(e) + [0] * (width - len(e)) for e in encoded])
    labels = ids.masked_fill(mask == 0, -100)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3)
    for _ in range(90):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5, "the tiny model did not memorise its training texts"
    out = tmp_path_factory.mktemp("mia_planted")
    model.save_pretrained(out / "model")
    tokenizer.save_pretrained(out / "model")
    data = out / "texts.jsonl"
    data.write_text("".join(json.dumps({"id": i, "input": t, "label": int(i < N_EACH)}) + "\n" for i, t in enumerate(texts)))
    return out / "model", data


def _cli(argv: list[str]) -> tuple[int, str, str]:
    run = run_command(argv)
    return run.status, run.stdout.decode(), run.stderr


def _eval(path: Path) -> dict[str, dict]:
    code, out, err = _cli(["mia", "eval", "-i", str(path), "-q"])
    assert code == 0, err
    return {row["method"]: row for row in map(json.loads, out.splitlines())}


@pytest.fixture(scope="module")
def vllm_scoring(request, planted, tmp_path_factory) -> Iterator[tuple[Background, Path] | None]:
    """The vllm test's one CLI run (every method, one engine), started as soon as the model is
    trained, so that its engine starts while the hf run scores; None when that test is not run."""
    if not will_run(request, "test_vllm_end_to_end_matches_hf"):
        yield None
        return
    model, data = planted
    out = tmp_path_factory.mktemp("mia_vllm") / "vllm.jsonl"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    run = Background(
        [sys.executable, "-m", "llmkit", "mia", "score", "-i", str(data), "-o", str(out), "-q",
         "--backend", "vllm", "--model", str(model), "--methods", ALL_METHODS, "--seed", "0",
         "--max-model-len", "512", "--dtype", "float32"],  # vllm-cpu would pick bfloat16 for auto  # fmt: skip
        env=env, timeout=600,
    )
    yield run, out
    run.stop()


@pytest.fixture(scope="module")
def hf_scored(planted, vllm_scoring, tmp_path_factory) -> Path:
    model, data = planted
    out = tmp_path_factory.mktemp("mia_hf") / "scored.jsonl"
    scored = run_command(["mia", "score", "-i", str(data), "-o", str(out), "-q", "--backend", "hf", "--model", str(model),
                          "--methods", ALL_METHODS, "--seed", "0", "--keep-samples"])  # fmt: skip
    assert scored.status == 0, scored.stderr
    return out


def test_hf_samia_and_loss_find_the_memorised_texts(hf_scored):
    records = [json.loads(line) for line in hf_scored.read_text().splitlines()]
    assert len(records) == 2 * N_EACH
    assert all(len(r["mia_samples"]) == 10 and r["label"] in (0, 1) for r in records)
    assert all(list(r["mia"]) == ALL_METHODS.split(",") for r in records)
    metrics = _eval(hf_scored)
    for method in ("samia", "samia-zlib", "loss", "mink", "minkpp", "zlib"):
        assert metrics[method]["auc"] > 0.8, (method, metrics[method])


def test_vllm_end_to_end_matches_hf(vllm_scoring, hf_scored):
    require_vllm()
    run, out = vllm_scoring
    done = run.result()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    metrics = _eval(out)
    assert metrics["samia"]["auc"] > 0.8 and metrics["loss"]["auc"] > 0.8, metrics
    hf = {r["id"]: r["mia"] for r in map(json.loads, hf_scored.read_text().splitlines())}
    for record in map(json.loads, out.read_text().splitlines()):
        mine, theirs = record["mia"], hf[record["id"]]
        for method in ("loss", "zlib", "mink", "minkpp"):  # teacher-forced: the same numbers up to kernel rounding
            assert mine[method] == pytest.approx(theirs[method], rel=1e-3, abs=1e-4), method
