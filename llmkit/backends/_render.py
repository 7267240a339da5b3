"""Prompt rendering and request checks shared by the backends (rendering: hf and vllm, which hold
a tokenizer locally).

Both tokenise here, so the same prompt gives the same token ids on either backend (which the
parity tests rely on), and the context-length check happens before anything reaches the model.
Rules: a string is encoded with the tokenizer's special tokens (BOS where the model uses one);
chat messages are rendered with the chat template, whose text already carries BOS, and encoded
without adding special tokens again; :class:`TokenIds` pass through untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from llmkit.backends.base import GenerationResult, Prompt, SamplingParams, TokenIds, TokenScores
from llmkit.errors import BackendUnavailable, UsageError

#: transformers uses this huge number as "no limit" in ``model_max_length``
_NO_LIMIT = 10**8


#: each sampling value's rule: (holds when, what it must be); NaN fails every rule
_SAMPLING_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "n": (lambda v: v >= 1, "n must be at least 1"),
    "max_tokens": (lambda v: v >= 1, "--max-tokens must be at least 1"),
    "temperature": (lambda v: v >= 0, "--temperature must be 0 (greedy) or more"),
    "top_p": (lambda v: 0 < v <= 1, "--top-p must be in (0, 1]"),
    "top_k": (lambda v: v >= 0, "--top-k must be 0 (off) or more"),
}


def check_sampling_values(values: Mapping[str, float | None]) -> None:
    """UsageError (exit 2) naming every value of ``values`` (by SamplingParams field name) that
    breaks its rule; None means not given and is not checked. The one home of these rules: the
    command line checks them before any model loads, every backend again per request."""
    problems = []
    for name, value in values.items():
        holds, message = _SAMPLING_RULES[name]
        if value is not None and not holds(value):
            problems.append(f"{message}, not {value}")
    if problems:
        raise UsageError("; ".join(problems))


def checked_params(params: SamplingParams) -> SamplingParams:
    """The same range checks on every backend (exit 2 rather than each library's own error);
    empty stop strings, which would stop everything at once, are dropped."""
    check_sampling_values({name: getattr(params, name) for name in _SAMPLING_RULES})
    return replace(params, stop=tuple(s for s in params.stop if s))


def check_local_model(model: str) -> None:
    """Fail early, naming the path, when ``model`` is meant as a local path that does not exist.

    A hub id (``org/name``) cannot be told from a relative path with one slash, so only paths that
    are unmistakably local (absolute, ``./``, ``../``, ``~``) are checked here; a missing hub id
    fails in the loader, which the backends translate the same way.
    """
    local = model.startswith(("/", "./", "../", "~")) or model in (".", "..")
    if local and not os.path.isdir(os.path.expanduser(model)):
        raise BackendUnavailable(f"model path {model!r} does not exist or is not a directory")


def refuse_own_code(model: str, trust_remote_code: bool) -> None:
    """UsageError (exit 2) when ``model`` ships its own Python code (an ``auto_map`` in its
    ``config.json`` or ``tokenizer_config.json``) and ``--trust-remote-code`` is not given.

    Without the flag its code never runs either way; but where the config also names a
    ``model_type`` transformers or vLLM know, they load their stock class in its place, in
    silence, and that may not be the model its authors wrote. Refusing keeps the rule the README
    states: such a model runs only with --trust-remote-code. The files are read as the loaders
    read them (a local folder, or the hub and its cache); one that cannot be read is left to the
    loader, which says why.
    """
    if trust_remote_code:
        return
    from transformers import PretrainedConfig
    from transformers.models.auto.tokenization_auto import get_tokenizer_config

    path = os.path.expanduser(model)
    for name, read in (("config.json", lambda: PretrainedConfig.get_config_dict(path)[0]),
                       ("tokenizer_config.json", lambda: get_tokenizer_config(path))):  # fmt: skip
        try:
            settings = read()
        except Exception:  # not found, offline, unreadable: the loader reports it
            continue
        own = settings.get("auto_map") if isinstance(settings, dict) else None
        if own:
            classes = ", ".join(own) if isinstance(own, dict) else str(own)
            raise UsageError(
                f"model {model!r} ships its own code (auto_map in its {name}: {classes}); llmkit runs "
                "such a model only with --trust-remote-code (without it the stock class of its model "
                "type could stand in for the authors' code, in silence)"
            )


def load_tokenizer(model: str, trust_remote_code: bool = False) -> Any:
    """The model's Hugging Face tokenizer, with EOS as the pad token when it has none (batching
    needs one). A model with its own code only with ``trust_remote_code`` (:func:`refuse_own_code`,
    exit 2). Raises BackendUnavailable (exit 69) when it cannot be loaded."""
    check_local_model(model)
    refuse_own_code(model, trust_remote_code)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(os.path.expanduser(model), trust_remote_code=trust_remote_code)
    except Exception as exc:  # OSError (not found / offline), ValueError (remote code refused), ...
        raise BackendUnavailable(f"cannot load the tokenizer of model {model!r}: {exc}") from exc
    if tokenizer.pad_token_id is None:  # batching needs a pad id; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    # llmkit measures every prompt and text against the context itself and rejects the long ones
    # as too_long: the "indexing errors" this warning predicts never happen, in a log it misleads
    drop_log_message("transformers.tokenization_utils_base", "Token indices sequence length is longer")
    return tokenizer


def drop_log_message(logger_name: str, text: str) -> None:
    """Keep the log records of ``logger_name`` that contain ``text`` off stderr (once per text)."""
    import logging

    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _Without) and f.text == text for f in logger.filters):
        logger.addFilter(_Without(text))


class _Without:
    """A logging filter (any object with ``filter``) dropping the records that contain ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def filter(self, record: Any) -> bool:
        return self.text not in str(record.msg)


def context_length(config_max: int | None, tokenizer: Any, override: int | None) -> int | None:
    """--max-model-len when given, else the model config's, else the tokenizer's (when it has one)."""
    if override is not None:
        return override
    if config_max:
        return int(config_max)
    tok_max = getattr(tokenizer, "model_max_length", None)
    return int(tok_max) if tok_max and tok_max < _NO_LIMIT else None


def render_prompt(tokenizer: Any, prompt: Prompt) -> list[int]:
    """Token ids of one prompt, by the rules in the module docstring."""
    if isinstance(prompt, TokenIds):
        return list(prompt.ids)
    if isinstance(prompt, str):
        return list(tokenizer.encode(prompt, add_special_tokens=True))
    if isinstance(prompt, list):
        return list(tokenizer.encode(render_chat(tokenizer, prompt), add_special_tokens=False))
    raise TypeError(f"a prompt is a str, a list of chat messages or TokenIds, not {type(prompt).__name__}")


def render_chat(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """The chat template's text for ``messages``, ready for the assistant's turn."""
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError("the model has no chat template; give plain prompts (--no-chat)")
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # jinja errors: a message without role/content, a role the template refuses
        raise UsageError(f"the chat template could not render the messages: {exc}") from exc


def render_prompts(tokenizer: Any, prompts: Sequence[Prompt]) -> list[list[int]]:
    return [render_prompt(tokenizer, prompt) for prompt in prompts]


def prompt_problem(prompt_ids: list[int], max_len: int | None) -> GenerationResult | None:
    """A ready ``error`` result when a prompt cannot run (``empty_prompt``; ``too_long``: it must
    leave room for one token), else None. Public, so that a plugin's own backend (contrastive-gen's
    pair) refuses prompts by the same rule as every backend."""
    if not prompt_ids:
        return GenerationResult(error="empty_prompt", detail="the prompt has no tokens", prompt_token_ids=[])
    if max_len is not None and len(prompt_ids) + 1 > max_len:
        return GenerationResult(
            error="too_long",
            detail=f"prompt has {len(prompt_ids)} tokens; the context holds {max_len} (prompt + at least 1 new token)",
            prompt_token_ids=prompt_ids,
        )
    return None


def new_token_budget(prompt_len: int, max_tokens: int, max_len: int | None) -> int:
    """max_tokens, capped so that prompt and completion fit the context."""
    return max_tokens if max_len is None else max(1, min(max_tokens, max_len - prompt_len))


def score_problem(text_ids: list[int], max_len: int | None) -> TokenScores | None:
    """A ready ``error`` score when a text cannot be scored whole (same rule as prompts), else None."""
    if max_len is not None and len(text_ids) + 1 > max_len:
        return TokenScores(
            token_ids=[],
            logprobs=[],
            error="too_long",
            detail=f"text has {len(text_ids)} tokens; the context holds {max_len}",
        )
    return None


def encode_texts(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of texts to score: special tokens added, so the first real token is scored after BOS."""
    if not all(isinstance(text, str) for text in texts):
        raise TypeError("score() takes strings")
    return [list(tokenizer.encode(text, add_special_tokens=True)) for text in texts]
