"""ret-heads detect takes the core's model option set and holds its model through LocalModel."""

from __future__ import annotations

import os
import subprocess
import sys

from llmkit.testing import run_command


def test_detect_and_pairs_without_model_are_the_cores_usage_error():
    for args in (["ret-heads", "detect"], ["ret-heads", "pairs", "--masked", "m"]):
        run = run_command(args)
        assert run.status == 2 and "--model is required" in run.stderr, run.stderr


def test_detect_refuses_trials_longer_than_the_context_before_running_one(tiny_llama):
    needles = [{"context": "The key is blue.", "question": "What is the key?", "answer": "blue"}]
    run = run_command(["ret-heads", "detect", "-m", tiny_llama, "--device", "cpu", "--max-model-len", "256",
                       "--lengths", "120,400", "--depths", "0", "--needles", "needles.jsonl", "-q"], files={"needles.jsonl": needles})
    assert run.status == 2 and "--lengths 400" in run.stderr and "context of 256 tokens" in run.stderr, run.stderr
    assert run.outputs == []


def test_detect_help_offers_the_model_set():
    shown = subprocess.run([sys.executable, "-m", "llmkit", "ret-heads", "detect", "--help"], capture_output=True, text=True, check=True,
                           env={**os.environ, "COLUMNS": "300"})
    for flag in ("--model", "--dtype", "--device", "--max-model-len", "--trust-remote-code"):
        assert flag in shown.stdout, flag
