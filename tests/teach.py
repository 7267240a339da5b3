"""Teach a tiny random model a fixed answer to given chat prompts, so that an end-to-end run
on a real backend exercises the paths a useful answer takes (a random model only writes noise)."""

from __future__ import annotations

from pathlib import Path


def teach(base: Path, prompts: list[str], answer: str, out: Path, max_steps: int = 300) -> Path:
    """Fine-tune ``base`` until greedy decoding after each prompt (one user message, rendered with
    the model's chat template as the backends render it) gives ``answer`` then EOS. Saved to ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmkit.backends._render import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    target = tokenizer.encode(answer, add_special_tokens=False) + [tokenizer.eos_token_id]
    rows = [render_prompt(tokenizer, [{"role": "user", "content": prompt}]) for prompt in prompts]
    width = max(len(row) for row in rows) + len(target)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row) + len(target)] = torch.tensor(row + target)
        labels[i, len(row) : len(row) + len(target)] = torch.tensor(target)  # the answer only
        mask[i, : len(row) + len(target)] = 1
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(max_steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        if loss.item() < 0.01:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01, f"the tiny model did not learn its answer (loss {loss.item():.3f})"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
