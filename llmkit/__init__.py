"""llmkit: LLM data and analysis methods behind one JSONL-streaming command line.

The public surface plugins use is listed in ``__all__``; everything else is private to the core.
Importing llmkit never imports torch, transformers or vLLM.
"""

from __future__ import annotations

__version__ = "0.1.0"
