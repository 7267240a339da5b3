"""The shared backend options: bad sampling values are refused on the command line, before a model loads."""

from __future__ import annotations

import pytest

from llmkit.backends import BackendOptions, SamplingParams
from llmkit.errors import UsageError

BAD_VALUES = [
    (["--temperature", "-1"], "--temperature must be 0 (greedy) or more, not -1.0"),
    (["--top-p", "0"], "--top-p must be in (0, 1], not 0.0"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1], not 1.5"),
    (["--top-k", "-1"], "--top-k must be 0 (off) or more, not -1"),
    (["--max-tokens", "0"], "--max-tokens must be at least 1, not 0"),
]


@pytest.mark.parametrize("backend", ["hf", "vllm"])
@pytest.mark.parametrize("option, message", BAD_VALUES)
def test_bad_sampling_value_is_exit_2_before_the_model_loads(tmp_path, backend, option, message):
    """A model path that does not exist would be exit 69 once loading starts: exit 2 shows the
    value was refused first."""
    from llmkit.testing import run_command

    run = run_command(["rewrite-math", "-i", "/nonexistent.jsonl", "--backend", backend,
                       "--model", str(tmp_path / "absent"), *option])  # fmt: skip
    assert run.status == 2
    assert message in run.stderr


def test_all_problems_named_at_once():
    with pytest.raises(UsageError) as caught:
        BackendOptions(temperature=-0.5, top_k=-3)
    assert "--temperature" in str(caught.value) and "--top-k" in str(caught.value)


def test_values_not_given_are_not_checked_and_good_ones_pass():
    options = BackendOptions(temperature=0.0, top_p=1.0, top_k=0, max_tokens=1)
    assert options.sampling(n=2) == SamplingParams(temperature=0.0, top_p=1.0, top_k=0, max_tokens=1, n=2)
    assert BackendOptions().sampling(temperature=0.7).temperature == 0.7


def test_nan_is_refused():
    with pytest.raises(UsageError, match="--top-p"):
        BackendOptions(top_p=float("nan"))
