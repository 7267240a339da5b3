"""Executors: where a step runs. :func:`~llmkit.executors.run.run_step` picks one:
:mod:`llmkit.executors.local` runs the step in this process (the default);
:mod:`llmkit.executors.ray_driver` runs the same step on a Ray cluster (``--executor ray``). Both go
through the contract's :func:`~llmkit.contract.parse_batch` and
:func:`~llmkit.contract.process_batch`, so a record is parsed, filtered and rejected alike.

The executors import :mod:`llmkit.contract`; the contract imports no executor."""
