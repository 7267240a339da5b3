"""A tiny model taught two synthetic tasks, for the planted-effect tests, the benchmark and the example.

``recall``: "R{key}" -> a digit from a fixed random table of 50 keys (the characters ``!`` to
``R``), scored over the ten digits (chance 10%). ``upper``: "U{c}" -> c in upper case, for the
26 lower-case letters, scored over the 26 upper-case letters (chance 4%).

Only the MLPs are trained: embeddings, unembedding and attention keep their random weights, so
no path but the MLP neurons can hold these facts (trained embeddings alone would store a table
keyed by one token). An L1 penalty on the MLP activations makes few neurons carry the facts and
leaves the rest nearly idle, as a large model's neurons mostly are for any one task: so a random
draw of neurons mostly hits idle ones. The keys of the two tasks differ, so do their neurons.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

RECALL_KEYS = [chr(c) for c in range(ord("!"), ord("!") + 50)]
_TABLE = dict(zip(RECALL_KEYS, random.Random(7).choices(range(10), k=50)))
DIGITS = [str(d) for d in range(10)]
UPPER = list(string.ascii_uppercase)


def task_records(task: str) -> list[dict]:
    """Every prompt of a task as a multiple-choice record."""
    if task == "recall":
        return [{"task": "recall", "prompt": f"R{key}", "choices": DIGITS, "answer": _TABLE[key]} for key in RECALL_KEYS]
    if task == "upper":
        return [{"task": "upper", "prompt": f"U{c}", "choices": UPPER, "answer": c.upper()} for c in string.ascii_lowercase]
    raise ValueError(task)


def _answer_text(record: dict) -> str:
    answer = record["answer"]
    return record["choices"][answer] if isinstance(answer, int) else answer


def train_two_tasks(tokenizer_dir: Path, out: Path, max_steps: int = 3000, width: int = 256, sparsity: float = 3e-3) -> Path:
    """Train the MLPs of a 2-layer Llama (hidden 64, MLP width ``width``) until every prompt of
    both tasks is answered right; saved with the tokenizer to ``out``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    records = task_records("recall") + task_records("upper")
    ids = torch.tensor([tokenizer.encode(r["prompt"]) + tokenizer.encode(_answer_text(r), add_special_tokens=False) for r in records])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster than two fighting other work
    try:
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=width, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        model = LlamaForCausalLM(config)
        trained = [p for name, p in model.named_parameters() if ".mlp." in name]
        optimizer = torch.optim.AdamW(trained, lr=3e-3, weight_decay=0.0)
        activations: list = []
        hooks = [layer.mlp.down_proj.register_forward_pre_hook(lambda m, args: activations.append(args[0])) for layer in model.model.layers]
        for _ in range(max_steps):
            activations.clear()
            logits = model(ids).logits[:, -2]
            loss = torch.nn.functional.cross_entropy(logits, ids[:, -1])
            if bool((logits.argmax(-1) == ids[:, -1]).all()) and loss.item() < 0.05:
                break
            loss = loss + sparsity * sum(a.abs().sum(-1).mean() for a in activations)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        for hook in hooks:
            hook.remove()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    with torch.no_grad():
        right = (model(ids).logits[:, -2].argmax(-1) == ids[:, -1]).float().mean().item()
    assert right == 1.0, f"the tiny model did not learn both tasks ({right:.0%} right after {max_steps} steps)"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
