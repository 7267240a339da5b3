"""``llmkit.ClusterOptions``: a public option set, whose executor may be named by its string."""

from __future__ import annotations

import pytest

import llmkit
from llmkit.contract import Executor


def test_cluster_options_are_public_and_take_the_executor_by_name():
    assert llmkit.ClusterOptions is llmkit.IOOptions().cluster.__class__
    assert llmkit.ClusterOptions(executor="ray").executor is Executor.ray  # run_step asks `is Executor.ray`
    assert llmkit.ClusterOptions().executor is Executor.local


def test_an_unknown_executor_is_a_usage_error_naming_the_choices():
    with pytest.raises(llmkit.UsageError, match=r"executor must be one of local, ray, got 'slurm'"):
        llmkit.ClusterOptions(executor="slurm")  # type: ignore[arg-type]
