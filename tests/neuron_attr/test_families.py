"""The neuron is found on every supported family: suppressing it by hook equals zeroing its
down-projection weights (logits equal), and the exported checkpoint loads in transformers with
the same logits. A model whose MLP cannot be located is a usage error naming its class."""

from __future__ import annotations

import pytest

from llmkit_neuron_attr.lm import studied
from llmkit_neuron_attr.suppress import suppressed, zero_weights
from tests.neuron_attr.families import FAMILIES, VOCAB, build, down_projection

NEURONS = [(0, 1), (0, 7), (0, 60), (1, 3), (1, 95)]


def _logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("family", FAMILIES)
def test_hook_equals_zeroed_weights_and_export(family, tiny_llama, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from llmkit.backends import save_checkpoint

    model = build(family)
    sm = studied(model, None, str(tiny_llama))
    assert (sm.layers, sm.width) == (2, 96)
    assert all(sm.projections[layer] is down_projection(model, family, layer) for layer in range(2))
    ids = torch.randint(4, VOCAB, (2, 9), generator=torch.Generator().manual_seed(1))
    plain = _logits(model, ids)
    with suppressed(sm, NEURONS):
        hooked = _logits(model, ids)
    assert not torch.allclose(plain, hooked, atol=1e-4)  # the neurons matter to the output
    assert torch.equal(_logits(model, ids), plain)  # and the hooks are gone
    zero_weights(sm, NEURONS)
    torch.testing.assert_close(_logits(model, ids), hooked, rtol=1e-5, atol=1e-5)
    out = save_checkpoint(model, tiny_llama, tmp_path / "export")
    loaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    torch.testing.assert_close(_logits(loaded, ids), hooked, rtol=1e-5, atol=1e-5)
    weight = down_projection(loaded, family, 1).weight
    column = weight[95] if family == "gpt2" else weight[:, 95]  # Conv1D keeps [in, out]
    assert torch.count_nonzero(column) == 0


def test_unknown_architecture_is_exit_2_naming_the_class(tiny_llama, tmp_path):
    from transformers import AutoTokenizer, OPTConfig, OPTForCausalLM

    from llmkit.testing import run_command

    model_dir = tmp_path / "opt"
    config = OPTConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, ffn_dim=48, num_attention_heads=1,
                       word_embed_proj_dim=32, max_position_embeddings=64)  # fmt: skip
    OPTForCausalLM(config).save_pretrained(model_dir)
    AutoTokenizer.from_pretrained(tiny_llama).save_pretrained(model_dir)
    data = tmp_path / "task.jsonl"
    data.write_text('{"prompt": "a", "target": "b", "task": "t"}\n')
    run = run_command(["neuron-attr", "score", "-m", str(model_dir), "-i", str(data), "-q"])
    assert run.status == 2
    assert "OPTForCausalLM" in run.stderr
