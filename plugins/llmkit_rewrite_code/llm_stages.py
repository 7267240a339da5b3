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

from llmkit_rewrite_code.codeblock import find_code_blocks, pick_program
from llmkit_rewrite_code.model import DEFAULT_SAMPLING
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


class RewriteStep(llmkit.GenerationStep):
    """An LLM rewriting stage: prompt with the code, keep the checked program in ``field``."""

    prompt_name = ""
    batch_size = 256
    sampling_defaults = DEFAULT_SAMPLING  # backends cap new tokens by the context

    def __init__(self, field: str, model: llmkit.LazyBackend, prompt_file: str | Path | None = None,
                 keep_original: bool = False) -> None:
        super().__init__(model.backend_options, field=field, shared=model)
        self.template = llmkit.load_prompt("llmkit_rewrite_code", self.prompt_name, prompt_file, required={"code"})
        self.keep_original = keep_original

    def check(self, record: llmkit.Record) -> llmkit.Reject | None:
        return field_clash(record, self.name)

    def prompt(self, record: llmkit.Record, text: str) -> llmkit.Prompt:
        return self.chat_prompt(self.template.render(code=text))

    def accept(self, record: llmkit.Record, completions: list[llmkit.Completion]) -> llmkit.Outcome:
        completion = completions[0]
        program = check_program(completion)
        if isinstance(program, llmkit.Reject):
            return program
        field = self.text_field
        out = {**record, field: program}
        if self.keep_original:
            out.setdefault(f"original_{field}", record[field])  # the first rewrite's input, across jobs too
        return self.annotate(out, completion)

    def annotate(self, record: llmkit.Record, completion: llmkit.Completion) -> llmkit.Outcome:
        return passed_stage(record, self.name)
