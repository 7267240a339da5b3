"""The one entry to the executors: :func:`run_step` (public as ``llmkit.run_step``)."""

from __future__ import annotations

from llmkit.contract import Executor, IOOptions
from llmkit.step import Step
from llmkit.summary import Summary


def run_step(step: Step, options: IOOptions) -> Summary:
    """Stream the inputs through ``step`` under the JSONL contract, on the executor the options
    name (``options.cluster``: this process, or a Ray cluster). Returns the summary."""
    if options.cluster.executor is Executor.ray:
        from llmkit.executors.ray_driver import run_on_ray  # Ray is imported only when asked for

        return run_on_ray(step, options)
    from llmkit.executors.local import run_local

    return run_local(step, options)
