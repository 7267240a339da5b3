"""SCOR, self-contained optimising rewriting: the model makes the program self-contained and
efficient; the names it still leaves unresolved become ``unresolved_names``."""

from __future__ import annotations

import llmkit

from llmkit_rewrite_code.llm_stages import RewriteStep
from llmkit_rewrite_code.selfcontained import unresolved_names
from llmkit_rewrite_code.stages import passed_stage


class ScorStep(RewriteStep):
    """Self-contained optimising rewriting; adds ``unresolved_names`` and, with
    ``require_self_contained``, rejects ``not_self_contained`` when some name is unresolved."""

    name = "scor"
    prompt_name = "scor"

    def __init__(self, *args: object, require_self_contained: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.require_self_contained = require_self_contained

    def open(self) -> None:
        # libcst is first imported after the model's answer; without this, a missing extra
        # would surface only after the first batch's generation
        llmkit.require("libcst", "rewrite", "the scor stage (its unresolved-names check)")

    def annotate(self, record: llmkit.Record, completion: llmkit.Completion) -> llmkit.Outcome:
        names = unresolved_names(record[self.text_field])
        record["unresolved_names"] = names
        if self.require_self_contained and names != []:
            detail = "libcst could not parse the program" if names is None else f"unresolved: {', '.join(names[:20])}"
            return llmkit.Reject("not_self_contained", detail)
        return passed_stage(record, self.name)
