"""Executors: where a step runs. The contract's own loop (:func:`llmkit.run_step`) is the local
executor; :mod:`llmkit.executors.ray_data` runs the same step on a Ray cluster (``--executor ray``)."""
