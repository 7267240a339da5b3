"""Turning a record into prompt token ids, once, with the expert's tokenizer.

CoDIT feeds the amateur exactly the ids the expert's chat template gives, so the prompt is
tokenized here, once, and the same ids go to both models (and to the plain backend as TokenIds).
"""

from __future__ import annotations

from typing import Any

from llmkit import Record, Reject, UsageError, get_text_field


def record_messages(record: Record, field: str, system: str | None) -> list[dict[str, str]] | Reject:
    """The chat of a record: ``record[field]`` as one user turn, else its ``messages`` list."""
    if record.get(field) is not None or "messages" not in record:
        text = get_text_field(record, field)
        if isinstance(text, Reject):
            return text
        messages = [{"role": "user", "content": text}]
    else:
        messages = record["messages"]
        if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        ):
            return Reject("bad_messages", "'messages' must be a non-empty list of {role, content} strings")
        messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    if system is not None and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}, *messages]
    return messages


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]], chat: bool = True) -> list[int]:
    """Token ids of the prompt: the chat template with the generation prompt, or (``chat`` off)
    the messages' contents joined by blank lines, encoded with the tokenizer's specials."""
    if not chat:
        text = "\n\n".join(m["content"] for m in messages)
        return list(tokenizer(text, add_special_tokens=True)["input_ids"])
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    bos = getattr(tokenizer, "bos_token", None)
    # a template that writes BOS itself must not get a second one from the tokenizer
    has_bos = bool(bos) and text.startswith(bos)
    return list(tokenizer(text, add_special_tokens=not has_bos)["input_ids"])


def check_chat_template(tokenizer: Any, expert: str, chat: bool) -> None:
    """A chat run needs the expert's template; say so once instead of rejecting every record."""
    if chat and tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        raise UsageError(f"the expert {expert!r} has no chat template; give --no-chat to prompt with the bare text")
