"""What the two LLM stages (:mod:`.sgcr`, :mod:`.scor`) share: prompting with the code, and the
post-filters every rewritten program must pass.

Post-filters, in order, on the program taken from the answer (:mod:`.codeblock`):
``no_code_block`` (none, or the answer ends inside one), ``rewrite_syntax`` (it does not
compile), ``too_short`` (50 characters or fewer, surrounding whitespace not counted),
``repetition`` (``llmkit.find_repetition`` by lines: a line or block written 3 times back to back
over 12 lines or more; a literal table on one line is not a loop).
A prompt longer than the model's context is rejected ``too_long``.
"""

from __future__ import annotations

from pathlib import Path

import llmkit
import llmkit.backends

from llmkit_rewrite_code.codeblock import find_code_blocks, pick_program
from llmkit_rewrite_code.model import SharedModel
from llmkit_rewrite_code.stages import field_clash, passed_stage
from llmkit_rewrite_code.syntax import compile_error

MIN_CHARS = 50  # a program of this many characters or fewer is too short


def check_program(completion: llmkit.Completion) -> str | llmkit.Reject:
    """The program in a model's answer, or the reject of the first post-filter it fails."""
    # An answer cut off inside a block is refused even when an earlier block is closed: that
    # earlier block is most often the input quoted back, and the cut one the rewrite.
    cut = find_code_blocks(completion.text).unclosed
    block = None if cut else pick_program(completion.text)
    if block is None:
        why = "the answer ends inside a code block" if cut else "no fenced Python code block"
        if completion.finish_reason == "length":
            why += " (the answer reached the token limit)"
        return llmkit.Reject("no_code_block", why)
    error = compile_error(block.code)
    if error is not None:
        return llmkit.Reject("rewrite_syntax", error)
    if len(block.code.strip()) <= MIN_CHARS:
        return llmkit.Reject("too_short", f"{len(block.code.strip())} characters")
    repeated = llmkit.find_repetition(block.code, unit="line")  # lines: literal tables are not loops
    if repeated is not None:
        return llmkit.Reject("repetition", repeated.describe())
    return block.code


class RewriteStep(llmkit.Step):
    """An LLM rewriting stage: prompt with the code, keep the checked program in ``field``."""

    prompt_name = ""
    batch_size = 256

    def __init__(self, field: str, model: SharedModel, prompt_file: str | Path | None = None,
                 keep_original: bool = False) -> None:
        self.field = field
        self.model = model
        self.template = llmkit.load_prompt("llmkit_rewrite_code", self.prompt_name, prompt_file, required={"code"})
        self.keep_original = keep_original

    def process(self, records: list[llmkit.Record]) -> list[llmkit.Outcome]:
        codes = [field_clash(record, self.name) or llmkit.get_text_field(record, self.field) for record in records]
        todo = [i for i, code in enumerate(codes) if isinstance(code, str)]
        prompts = [self.model.prompt(self.template.render(code=codes[i])) for i in todo]
        results = self.model.backend.generate(prompts, self.model.sampling()) if prompts else []
        outcomes: list[llmkit.Outcome] = list(codes)  # the rejects stay; the others are replaced
        for i, result in zip(todo, results, strict=True):
            outcomes[i] = self._outcome(records[i], codes[i], result)  # type: ignore[arg-type]
        return outcomes

    def _outcome(self, record: llmkit.Record, code: str, result: llmkit.backends.GenerationResult) -> llmkit.Outcome:
        if result.error is not None:
            return llmkit.Reject(result.error, result.detail)
        if not result.completions:
            return llmkit.Reject("no_answer", "the backend returned no completion")
        completion = result.completions[0]
        program = check_program(completion)
        if isinstance(program, llmkit.Reject):
            return program
        out = {**record, self.field: program}
        if self.keep_original:
            out.setdefault(f"original_{self.field}", code)  # the first rewrite's input, across jobs too
        return self.annotate(out, completion)

    def annotate(self, record: llmkit.Record, completion: llmkit.Completion) -> llmkit.Outcome:
        return passed_stage(record, self.name)

    def close(self) -> None:
        self.model.close()
