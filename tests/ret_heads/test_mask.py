"""``mask``: the checkpoint equals the hook (logits), the heads chosen, the record beside the weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llmkit_ret_heads.mask import HeadScores, choose_heads, hook_heads

from llmkit.testing import run_command


def _cli(argv: list[str]) -> int:
    return run_command(argv).status


def _save(model, tokenizer_dir: Path, out: Path) -> Path:
    from transformers import AutoTokenizer

    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def models(tiny_llama, tmp_path_factory) -> dict[str, Path]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("mask_models")
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, head_dim=32))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=512, n_embd=64, n_layer=2, n_head=2, bos_token_id=1, eos_token_id=2))
    return {"llama": _save(llama, tiny_llama, root / "llama"), "gpt2": _save(gpt2, tiny_llama, root / "gpt2")}


def _heads_file(path: Path, model: str, layers: int, heads: int) -> Path:
    rows = [{"type": "head", "model": model, "layer": layer, "head": head, "score": (layer * heads + head) / 10,
             "retrieval": (layer * heads + head) / 10 >= 0.2} for layer in range(layers) for head in range(heads)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + json.dumps({"type": "summary", "model": model}) + "\n")
    return path


@pytest.mark.parametrize("arch,heads", [("llama", 4), ("gpt2", 2)])
def test_checkpoint_mask_equals_hook_mask(models, tmp_path, arch, heads):
    import torch
    from transformers import AutoModelForCausalLM

    scores = _heads_file(tmp_path / "heads.jsonl", arch, 2, heads)
    out = tmp_path / "masked"
    assert _cli(["ret-heads", "mask", "--model", str(models[arch]), "--heads", str(scores), "--top-k", "2", "-o", str(out)]) == 0
    info = json.loads((out / "masked_heads.json").read_text())
    top = [[1, heads - 1], [1, heads - 2]]  # the two highest scores
    assert sorted(info["heads"]) == sorted(top) and info["selection"] == "top_k" and info["count"] == 2
    original = AutoModelForCausalLM.from_pretrained(models[arch]).eval()
    masked = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.randint(3, 500, (2, 40), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        plain = original(ids).logits
        handles = hook_heads(original, [tuple(h) for h in top])
        hooked = original(ids).logits
        for handle in handles:
            handle.remove()
        saved = masked(ids).logits
    assert not torch.allclose(plain, hooked, atol=1e-4)  # the heads mattered
    torch.testing.assert_close(saved, hooked, rtol=1e-5, atol=1e-5)


def test_random_control_avoids_retrieval_heads():
    grid = [(layer, head) for layer in range(4) for head in range(4)]
    scores = dict(zip(grid, [0.9, 0.5, 0.3] + [0.0] * 13))
    heads = HeadScores("m", scores, flagged={(0, 0), (0, 1), (0, 2)}, summary=None)
    assert choose_heads(heads, 0.4, None, False, 0) == [(0, 0), (0, 1)]
    for seed in range(20):
        drawn = choose_heads(heads, 0.4, None, True, seed)
        assert len(drawn) == 2 and not set(drawn) & {(0, 0), (0, 1), (0, 2)}
    assert choose_heads(heads, None, 3, True, 1) == choose_heads(heads, None, 3, True, 1)


def test_mask_usage_errors(models, tmp_path):
    scores = _heads_file(tmp_path / "heads.jsonl", "llama", 2, 4)
    base = ["ret-heads", "mask", "--model", str(models["llama"]), "--heads", str(scores), "-o", str(tmp_path / "m")]
    assert _cli(base) == 2  # neither --threshold nor --top-k
    assert _cli(base + ["--threshold", "5"]) == 2  # no head that high
    wrong = _heads_file(tmp_path / "wide.jsonl", "llama", 3, 4)  # a third layer the model lacks
    assert _cli(["ret-heads", "mask", "--model", str(models["llama"]), "--heads", str(wrong), "--top-k", "1",
                 "-o", str(tmp_path / "w")]) == 2


@pytest.mark.parametrize(("given", "saved"), [("auto", "float16"), ("float32", "float32"), ("bfloat16", "bfloat16")])
def test_auto_saves_the_dtype_the_checkpoint_was_stored_in(models, tmp_path, given, saved):
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    half = _save(AutoModelForCausalLM.from_pretrained(models["llama"], dtype=torch.float16), models["llama"], tmp_path / "half")
    scores = _heads_file(tmp_path / "heads.jsonl", "llama", 2, 4)
    out = tmp_path / "masked"
    assert _cli(["ret-heads", "mask", "--model", str(half), "--heads", str(scores), "--top-k", "1", "--dtype", given,
                 "-o", str(out)]) == 0
    with safe_open(out / "model.safetensors", "pt") as weights:
        assert {str(weights.get_tensor(name).dtype) for name in weights.keys()} == {f"torch.{saved}"}
