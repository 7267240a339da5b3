"""llmkit.backends.surgery: projections found on every supported family; hook and weights agree."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from llmkit import UsageError  # noqa: E402
from llmkit.backends import (  # noqa: E402
    head_features,
    mask_input_features,
    save_checkpoint,
    transformer_blocks,
    zero_input_features,
)

SHAPE = dict(vocab_size=96, hidden_size=64, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4)


def _configs():
    t = transformers
    gqa = dict(SHAPE, num_key_value_heads=2)
    return {
        "llama": t.LlamaConfig(**gqa),
        "qwen2": t.Qwen2Config(**gqa),
        "qwen3": t.Qwen3Config(**gqa, head_dim=16),
        "mistral": t.MistralConfig(**gqa),
        "gemma": t.GemmaConfig(**gqa, head_dim=16),
        "gemma2": t.Gemma2Config(**gqa, head_dim=16),
        "gemma3": t.Gemma3TextConfig(**gqa, head_dim=16),
        "phi3": t.Phi3Config(**SHAPE, pad_token_id=0),
        "gpt2": t.GPT2Config(vocab_size=96, n_embd=64, n_layer=2, n_head=4, n_positions=64, n_inner=80),
    }


FAMILIES = list(_configs())


def _model(family: str):
    torch.manual_seed(0)
    config = _configs()[family]
    config._attn_implementation = "eager"
    model = transformers.AutoModelForCausalLM.from_config(config).eval()
    # random biases and non-trivial weights everywhere, so a wrong row/column choice shows
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.2)
    return model


def _logits(model, ids):
    with torch.no_grad():
        return model(ids).logits


@pytest.mark.parametrize("family", FAMILIES)
def test_hook_equals_zeroed_weights_for_neurons_and_heads(family):
    model = _model(family)
    blocks = transformer_blocks(model)
    assert len(blocks) == 2
    width = blocks[0].mlp_width
    assert width == 80
    ids = torch.randint(0, 96, (2, 12))
    before = _logits(model, ids)

    neurons, heads = [0, 7, width - 1], [1, 3]
    handles = [mask_input_features(blocks[1].mlp_output, neurons),
               mask_input_features(blocks[0].attention_output, head_features(blocks[0], heads))]
    hooked = _logits(model, ids)
    for handle in handles:
        handle.remove()
    assert torch.equal(_logits(model, ids), before), "removing the hooks restores the model"
    assert not torch.allclose(hooked, before)

    zero_input_features(blocks[1].mlp_output, neurons)
    zero_input_features(blocks[0].attention_output, head_features(blocks[0], heads))
    torch.testing.assert_close(_logits(model, ids), hooked, rtol=1e-5, atol=1e-5)


def test_zeroing_a_feature_equals_zeroing_the_activation_by_hand():
    """Independent of the module layout: silence neuron 5 of block 0 by editing the activation itself."""
    model = _model("gpt2")
    block = transformer_blocks(model)[0]
    ids = torch.randint(0, 96, (1, 9))

    def by_hand(module, args):
        x = args[0].clone()
        x[..., 5] = 0
        return (x,)

    handle = block.mlp_output.register_forward_pre_hook(by_hand)
    expected = _logits(model, ids)
    handle.remove()
    zero_input_features(block.mlp_output, [5])
    torch.testing.assert_close(_logits(model, ids), expected, rtol=1e-5, atol=1e-5)


def test_geometry_comes_from_the_config():
    blocks = transformer_blocks(_model("qwen3"))
    assert (blocks[0].num_heads, blocks[0].num_kv_heads, blocks[0].head_dim) == (4, 2, 16)
    gpt2 = transformer_blocks(_model("gpt2"))[0]
    assert (gpt2.num_heads, gpt2.num_kv_heads, gpt2.head_dim) == (4, 4, 16)
    assert head_features(gpt2, [2]) == list(range(32, 48))


def test_unknown_layout_and_bad_indices_are_usage_errors():
    with pytest.raises(UsageError, match="Linear"):
        transformer_blocks(torch.nn.Linear(2, 2))
    block = transformer_blocks(_model("llama"))[0]
    with pytest.raises(UsageError, match="outside"):
        zero_input_features(block.mlp_output, [80])
    with pytest.raises(UsageError, match="head 4"):
        head_features(block, [4])


def test_saved_checkpoint_loads_with_the_same_logits(tmp_path, tiny_llama):
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    block = transformer_blocks(model)[1]
    zero_input_features(block.mlp_output, range(0, 40, 3))
    ids = torch.randint(0, 200, (1, 10))
    out = save_checkpoint(model, tiny_llama, tmp_path / "edited")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    again = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    torch.testing.assert_close(_logits(again, ids), _logits(model, ids))
