"""A tiny judge whose answer is written into its weights: no training, the same answer to any prompt.

    python examples/instruct_data/scripted_judge.py TINY_MODEL OUT_FOLDER "Fine. Score: 7"

A random tiny model writes noise, which no judge prompt can parse; this one writes the answer
given, so the pipe of examples/instruct_data/pipeline.sh (and its test) ends with scores.

Every attention and MLP output projection is zeroed, so each position's hidden state is its own
token's embedding and the next token depends on the current token alone (a bigram model). The
embeddings of the tokens of a chain (the generation prompt's last token, then the answer's
tokens) are made one-hot, and the LM head maps each to the next token of the chain, ending in EOS.
"""

from __future__ import annotations

import sys
from pathlib import Path


def scripted_judge(base: Path, answer: str, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)
    start = tokenizer(rendered, add_special_tokens=False)["input_ids"][-1]
    chain = [start, *tokenizer.encode(answer, add_special_tokens=False), tokenizer.eos_token_id]
    sources = chain[:-1]
    assert len(set(sources)) == len(sources), "a token repeats in the answer: the bigram chain would be ambiguous"
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        head.zero_()
        for k, (token, following) in enumerate(zip(sources, chain[1:])):
            embed[token] = 0.0
            embed[token, k] = 1.0
            head[following, k] = 10.0
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


if __name__ == "__main__":
    base, out, answer = sys.argv[1:4]
    print(scripted_judge(Path(base), answer, Path(out)))
