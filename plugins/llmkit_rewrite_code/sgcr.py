"""SGCR, style-guided code rewriting: the model rates the snippet against style criteria and
rewrites it; the rating becomes ``sgcr_score``."""

from __future__ import annotations

import re

import llmkit

from llmkit_rewrite_code.llm_stages import RewriteStep
from llmkit_rewrite_code.stages import passed_stage

_RATING = re.compile(r"rating\W{0,3}\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10|out of 10)?", re.IGNORECASE)


def parse_rating(answer: str) -> float | None:
    """The first "Rating: N/10" outside code blocks, when 0 <= N <= 10; else None."""
    prose = answer.split("```", 1)[0]  # the prompt asks for the rating before the program
    match = _RATING.search(prose)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= 10.0 else None


class SgcrStep(RewriteStep):
    """Style-guided code rewriting; adds ``sgcr_score`` (the model's 0-10 rating, or null)."""

    name = "sgcr"
    prompt_name = "sgcr"

    def annotate(self, record: llmkit.Record, completion: llmkit.Completion) -> llmkit.Outcome:
        record["sgcr_score"] = parse_rating(completion.text)
        return passed_stage(record, self.name)
