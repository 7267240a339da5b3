"""The syntax stage: the snippet must compile as Python 3 (it is compiled, never run)."""

from __future__ import annotations

import llmkit

from llmkit_rewrite_code.stages import field_clash, passed_stage


def compile_error(code: str) -> str | None:
    """Why ``code`` does not compile as a module, or None when it does."""
    try:
        compile(code, "<snippet>", "exec", dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError included
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    except UnicodeEncodeError:
        return "not valid UTF-8 (a lone surrogate in the text)"
    except (ValueError, RecursionError, MemoryError) as exc:  # null bytes; too deeply nested
        return f"{type(exc).__name__}: {exc}"
    return None


class SyntaxStep(llmkit.RecordStep):
    """Rejects ``field_exists`` (see :func:`.stages.field_clash`), ``missing_field``, ``empty`` (nothing but whitespace) and ``syntax``."""

    name = "syntax"
    batch_size = 256

    def __init__(self, field: str) -> None:
        self.field = field

    def process_record(self, record: llmkit.Record) -> llmkit.Outcome:
        code = field_clash(record, self.name) or llmkit.get_text_field(record, self.field)
        if isinstance(code, llmkit.Reject):
            return code
        if not code.strip():
            return llmkit.Reject("empty", "the code is empty")
        error = compile_error(code)
        if error is not None:
            return llmkit.Reject("syntax", error)
        return passed_stage({**record}, self.name)
