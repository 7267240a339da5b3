"""A planted effect: a byte model trained for a few seconds on Japanese text writes well-formed
characters and puts its next-byte mass on valid continuations; its untrained twin does not."""

from __future__ import annotations

import shutil

import orjson
import pytest

from llmkit.testing import run_command
from tests.conftest import torch_threads

pytestmark = pytest.mark.slow  # trains a tiny byte model

SENTENCES = [
    "わたしは毎日学校へ行きます。",
    "きょうは天気がとてもよいです。",
    "日本の山と川はうつくしい。",
    "ともだちと一緒に本を読みました。",
    "あしたは雨がふるでしょう。",
    "ねこが窓のそばでねています。",
]


def _train(path) -> None:
    """A few seconds of AdamW on the sentences as raw bytes (one byte token each)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    text = "".join(SENTENCES * 8).encode("utf-8")
    offset = tokenizer.convert_tokens_to_ids("<0x00>")
    ids = torch.tensor([b + offset for b in text])
    window, batch = 48, 8
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    with torch_threads(1):  # a tiny model: one thread is faster than two that contend
        for _ in range(60):
            starts = torch.randint(0, len(ids) - window, (batch,))
            rows = torch.stack([ids[s : s + window] for s in starts])
            rows = torch.cat([torch.full((batch, 1), tokenizer.bos_token_id), rows], dim=1)
            loss = model(input_ids=rows, labels=rows).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.save_pretrained(path, safe_serialization=True)


@pytest.fixture(scope="module")
def trained_byte(tiny_byte, tmp_path_factory):
    path = tmp_path_factory.mktemp("utf8_trained") / "model"
    shutil.copytree(tiny_byte, path)
    _train(path)
    return path


@pytest.fixture(scope="module")
def chars_file(tmp_path_factory):
    chars = sorted({c for c in "".join(SENTENCES) if len(c.encode()) == 3})
    path = tmp_path_factory.mktemp("utf8_chars") / "chars.jsonl"
    path.write_text("".join(orjson.dumps({"char": c, "tier": "common"}).decode() + "\n" for c in chars), encoding="utf-8")
    return path


def _run(args: list[str]) -> list[dict]:
    run = run_command(["utf8-eval", *args, "-q"])
    assert run.status == 0, run.stderr
    return run.outputs


def _generate_scores(model, chars_file) -> dict[str, float]:
    rows = _run(["generate", "--backend", "hf", "-m", str(model), "-i", str(chars_file), "--batch-size", "64"])
    completed, valid_at_completion, partial = [], [], []
    for row in rows:
        found = row["utf8_generate"]
        completed.append(found["completed_rate"])  # over k < L only: k = L has nothing to complete
        for run in found["runs"]:
            partial.extend(run["partial"])
            assert (run["completed"] is None) == (run["k"] == found["byte_length"])
            if run["completed"] is not None:  # a byte model needs L - k steps to finish the character
                valid_at_completion.append(run["valid"][found["byte_length"] - run["k"] - 1])
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {"completed": mean(completed), "valid": mean(valid_at_completion), "partial": mean(partial)}


def _next_byte_mass(model, chars_file) -> float:
    rows = _run(["next-byte", "-m", str(model), "-i", str(chars_file)])
    masses = [p["valid_mass"] for row in rows for p in row["utf8_next_byte"]["positions"]]
    assert len(masses) == 2 * len(rows)  # two prefixes inside each 3-byte character
    return sum(masses) / len(masses)


def test_trained_model_writes_valid_utf8(trained_byte, tiny_byte, chars_file):
    trained = _generate_scores(trained_byte, chars_file)
    untrained = _generate_scores(tiny_byte, chars_file)
    # measured: 0.71 against 0.08 (valid), 0.78 against 0.43 (partial)
    assert trained["valid"] >= 0.5 and untrained["valid"] <= 0.25, (trained, untrained)
    assert trained["completed"] > untrained["completed"], (trained, untrained)
    assert trained["partial"] > untrained["partial"] + 0.2, (trained, untrained)


def test_trained_model_puts_mass_on_valid_next_bytes(trained_byte, tiny_byte, chars_file):
    trained = _next_byte_mass(trained_byte, chars_file)
    untrained = _next_byte_mass(tiny_byte, chars_file)
    assert trained >= 0.75 and untrained <= 0.4, (trained, untrained)  # measured: 0.92 against 0.25
