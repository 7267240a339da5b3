"""The decode-time top-1 position equals eager attention's, on every head, over several steps."""

from __future__ import annotations

import pytest
from llmkit_ret_heads.capture import Top1Capture, eager_attention, top1_positions


def _llama_gqa():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=320, hidden_size=128, intermediate_size=128, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=1024)
    return LlamaForCausalLM(config)


def _gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(vocab_size=320, n_embd=64, n_layer=3, n_head=2, n_positions=1024,
                                      bos_token_id=0, eos_token_id=0))


@pytest.mark.parametrize("build", [_llama_gqa, _gpt2], ids=["llama-gqa", "gpt2"])
def test_decode_top1_equals_eager_top1(build):
    import torch

    torch.manual_seed(0)
    model = build().eval()
    ids = torch.randint(0, 320, (1, 300))
    steps = 4
    with torch.inference_mode():
        # sharpen some heads so the argmax is not a near-tie (random weights give flat attention)
        for name, param in model.named_parameters():
            if "q_proj" in name or "c_attn" in name:
                param.mul_(3.0)
        cache = model(input_ids=ids[:, :-1], use_cache=True).past_key_values
        token, seen, captured = ids[:, -1:], ids, []
        with Top1Capture(model) as capture:
            for _ in range(steps):
                capture.arm()
                logits = model(input_ids=token, past_key_values=cache, use_cache=True).logits
                captured.append(capture.take())
                token = logits[:, -1:].argmax(-1)
                seen = torch.cat([seen, token], dim=1)
        assert model.config._attn_implementation == "sdpa"  # restored
        with eager_attention(model):
            attentions = model(input_ids=seen[:, :-1], output_attentions=True).attentions
    heads = model.config.num_attention_heads
    for step, top in enumerate(captured):
        row = 300 - 1 + step  # the query of this decoding step
        eager = torch.stack([layer[0, :, row, : row + 1].argmax(-1) for layer in attentions])
        assert top.shape == (model.config.num_hidden_layers, heads)
        assert torch.equal(top, eager), (step, top, eager)


def test_gqa_query_head_reads_its_own_kv_group():
    import torch

    torch.manual_seed(1)
    query = torch.randn(1, 4, 1, 8)
    key = torch.randn(1, 2, 50, 8)
    key[0, 1, 17] = query[0, 2, 0] * 10  # head 2 (group 1 of 2 heads per group) must find position 17
    key[0, 0, 33] = query[0, 0, 0] * 10
    top = top1_positions(query, key)
    repeated = key.repeat_interleave(2, dim=1)  # repeat_kv's layout, built independently
    reference = (query @ repeated.transpose(-1, -2))[:, :, 0].argmax(-1)
    assert torch.equal(top, reference)
    assert top[0, 2] == 17 and top[0, 0] == 33


def test_masked_positions_are_never_chosen():
    import torch

    query = torch.ones(1, 2, 1, 4)
    key = torch.zeros(1, 1, 6, 4)
    key[0, 0, 5] = 5.0
    visible = torch.tensor([True, True, True, True, True, False]).view(1, 1, 1, 6)
    assert top1_positions(query, key, visible).tolist() == [[0, 0]]
    additive = torch.zeros(1, 1, 1, 6)
    additive[..., 5] = float("-inf")
    key[0, 0, 2] = 1.0
    assert top1_positions(query, key, additive).tolist() == [[2, 2]]


def test_a_model_outside_the_attention_interface_is_a_usage_error():
    import llmkit

    class Opaque:
        config = None

    with pytest.raises(llmkit.UsageError, match="Opaque"):
        Top1Capture(Opaque())
