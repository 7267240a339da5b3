"""What both pair backends (hf lockstep, the one-engine vLLM pair) do with a batch of prompts:
set aside the prompts that cannot run, and put the completions back in prompt order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from llmkit import Completion, Prompt
from llmkit.backends import GenerationResult, TokenIds, prompt_problem


def split_prompts(prompts: Sequence[Prompt], max_model_len: int) -> tuple[list[GenerationResult], list[list[int]]]:
    """One result per prompt (an error where the prompt cannot run, by the backends' rule:
    :func:`llmkit.backends.prompt_problem`) and the token ids of the prompts that can run, in order; both
    pair backends share this."""
    results: list[GenerationResult] = []
    runnable: list[list[int]] = []
    for prompt in prompts:
        if not isinstance(prompt, TokenIds):
            raise TypeError("the contrastive pair takes TokenIds prompts")
        ids = list(prompt.ids)
        problem = prompt_problem(ids, max_model_len)
        results.append(problem or GenerationResult(prompt_token_ids=ids))
        if problem is None:
            runnable.append(ids)
    return results, runnable


def fill_results(results: list[GenerationResult], completions: Iterable[list[Completion]]) -> list[GenerationResult]:
    """Put each runnable prompt's completions into its result, in order."""
    given = iter(completions)
    for result in results:
        if result.error is None:
            result.completions = next(given)
    return results
