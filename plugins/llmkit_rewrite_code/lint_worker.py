"""The pylint side of the lint stage: one long-lived PyLinter per worker process.

Each worker builds a linter once with SwallowCode's configuration and then scores snippets
written, one at a time, to a fixed file in the worker's own empty temporary folder. Snippet
code is only parsed (by astroid); it is never executed or imported:

- no configuration file is read (``--rcfile`` points at the null device, so a ``pylintrc``,
  ``setup.cfg`` or ``pyproject.toml`` in the working directory or home changes nothing) and no
  pylint plugin is loaded (``--load-plugins=`` empty; no ``init-hook`` can come from anywhere);
- the worker runs with its working directory in an empty temporary folder and with the
  current directory removed from ``sys.path``, so an ``import utils`` in a snippet cannot
  resolve to a user's file;
- astroid imports no compiled extension (pylint's default ``unsafe-load-any-extension=no``).

Why the result equals a fresh ``pylint`` process per snippet although astroid's module cache is
kept between snippets (keeping it is what makes in-process linting fast: a fresh process
re-parses ``os``, ``re``, ``typing`` ... for every snippet): a cached module's tree is exactly
what a fresh process would build, *unless* code in one module assigned an attribute on an object
that lives in another (``os.flag = 1`` in a snippet; ``cls._abc_impl = ...`` in ``abc``, which
writes into ``builtins.type``): astroid records such an assignment in the *other* module's tree
(``AstroidBuilder.delayed_assattr``), where it would leak into later snippets
(tests/rewrite/test_lint.py shows the leak). We log every cross-module write; after the snippet
we take the writes back out of their target trees and evict the modules that made them, so a
later snippet rebuilds such a module, replaying its writes, exactly when a fresh process would.
The snippet's own module, astroid's inference caches and pylint's lru caches are dropped after
every snippet, so no memo computed for one snippet is reused for another. The benchmark checks
the equality on 200 files.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from io import StringIO
from typing import Any

#: SwallowCode's disabled messages: import-error, missing-module-docstring, line-too-long,
#: invalid-name, missing-function-docstring, wrong-import-order, too-few-public-methods, fixme,
#: ungrouped-imports.
DISABLED_MESSAGES = ("E0401", "C0114", "C0301", "C0103", "C0116", "C0411", "R0903", "W0511", "C0412")

#: The flags both llmkit and the reference subprocess use (plus the file to lint).
PYLINT_FLAGS = (
    f"--rcfile={os.devnull}",
    "--persistent=n",
    "--load-plugins=",
    "--jobs=1",
    f"--disable={','.join(DISABLED_MESSAGES)}",
)

#: Module name the snippet is linted as (a file ``llmkit_snippet.py`` in an empty folder).
SNIPPET_MODULE = "llmkit_snippet"
#: Drop the whole astroid cache this often anyway, to bound a worker's memory.
FULL_RESET_EVERY = 2000


@dataclass(frozen=True, slots=True)
class LintResult:
    """``raw_score``: pylint's note as it prints it (2 decimals); None when pylint gives none
    (no statement, or a timeout). ``comment_ratio``: see :func:`comment_ratio`."""

    raw_score: float | None
    comment_ratio: float
    detail: str | None = None
    timed_out: bool = False


def comment_ratio(code: str) -> float:
    """Share of COMMENT tokens among all tokens ``tokenize.generate_tokens`` yields.

    As SwallowCode's public filter does: every token counts, including NEWLINE, NL, INDENT,
    DEDENT and ENDMARKER (``generate_tokens`` yields no ENCODING token); a snippet the tokenizer
    cannot read, or an empty one, has ratio 0 (no penalty).
    """
    total = comments = 0
    try:
        for token in tokenize.generate_tokens(StringIO(code).readline):
            total += 1
            comments += token.type == tokenize.COMMENT
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return 0.0
    return comments / total if total else 0.0


def penalised_score(raw_score: float, ratio: float) -> float:
    """SwallowCode's comment penalty: score x (1 - r)."""
    return raw_score * (1.0 - ratio)


class _Timeout(BaseException):
    """Raised by the alarm inside pylint; a BaseException so pylint's own
    ``except Exception`` crash handlers do not swallow it."""


class SnippetLinter:
    """A PyLinter configured once, scoring one snippet at a time (in the current process)."""

    def __init__(self, workdir: str) -> None:
        from pylint.lint import Run
        from pylint.reporters import CollectingReporter

        self.path = os.path.join(workdir, SNIPPET_MODULE + ".py")
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write("WARM_UP = 1\n")
        run = Run([*PYLINT_FLAGS, "--score=n", "--reports=n", self.path], reporter=CollectingReporter(), exit=False)
        self.linter = run.linter
        self.count = 0
        #: cross-module attribute writes during this snippet: (attribute dict, name, node)
        self.writes: list[tuple[dict, str, Any]] = []
        _watch_cross_module_assignments(self)
        self._reset(full=True)

    def score(self, code: str, timeout: float | None = None) -> LintResult:
        ratio = comment_ratio(code)
        with open(self.path, "w", encoding="utf-8") as handle:
            handle.write(code)
        try:
            with _alarm(timeout):
                note, detail = self._lint()
        except _Timeout:
            self._reset(full=True)  # the interrupted run may have left half-built trees
            return LintResult(None, ratio, f"pylint took longer than {timeout:g} s", timed_out=True)
        self.count += 1
        self._reset(full=self.count % FULL_RESET_EVERY == 0)
        return LintResult(None if note is None else float(f"{note:.2f}"), ratio, detail)

    def _lint(self) -> tuple[float | None, str | None]:
        from pylint.utils import LinterStats

        linter = self.linter
        linter.stats = LinterStats()
        linter.reporter.messages = []
        linter.check([self.path])
        stats = linter.stats
        if stats.statement == 0:
            return None, "pylint found no statement to score"
        names = ("fatal", "error", "warning", "refactor", "convention", "statement", "info")
        # pylint's own evaluation expression (the default one: no configuration file is read)
        note = eval(linter.config.evaluation, {}, {name: getattr(stats, name) for name in names})  # noqa: S307
        return float(note), None

    def _reset(self, full: bool) -> None:
        from astroid import MANAGER
        from astroid.context import _invalidate_cache
        from astroid.inference_tip import clear_inference_tip_cache
        from pylint.checkers.clear_lru_cache import clear_lru_caches

        clear_lru_caches()
        writers = {node.root().name for _, _, node in self.writes}
        for attributes, name, node in self.writes:  # undo, so the target tree is as built
            values = attributes.get(name)
            if values is not None and node in values:
                values.remove(node)
                if not values:
                    del attributes[name]
        self.writes = []
        if full:
            MANAGER.clear_cache()  # also re-bootstraps builtins
        else:  # the same memo clearing MANAGER.clear_cache does, keeping the module trees
            for module in {SNIPPET_MODULE, *writers}:
                MANAGER.astroid_cache.pop(module, None)
            _invalidate_cache()
            clear_inference_tip_cache()


def _watch_cross_module_assignments(owner: SnippetLinter) -> None:
    """Log in ``owner.writes`` each attribute astroid records from one module into another's tree."""
    from astroid import bases, objects, util
    from astroid.builder import AstroidBuilder

    original = AstroidBuilder.delayed_assattr

    def delayed_assattr(builder: Any, node: Any) -> None:
        original(builder, node)
        for attributes in _foreign_attribute_dicts(node, bases, objects, util):
            if node in attributes.get(node.attrname, ()):
                owner.writes.append((attributes, node.attrname, node))

    AstroidBuilder.delayed_assattr = delayed_assattr  # type: ignore[method-assign]


def _foreign_attribute_dicts(node: Any, bases: Any, objects: Any, util: Any) -> list[dict]:
    """The attribute dicts of other modules' objects that ``delayed_assattr(node)`` writes into
    (it mirrors that method's cases; the inference results are memoised, so this is cheap)."""
    from astroid.exceptions import InferenceError

    source = node.root()
    found = []
    try:
        for inferred in node.expr.infer():
            if isinstance(inferred, util.UninferableBase):
                continue
            if type(inferred) in {bases.Instance, objects.ExceptionInstance}:
                target, attributes = inferred._proxied, inferred._proxied.instance_attrs
            elif isinstance(inferred, (bases.Instance, bases.Proxy)):
                continue
            elif getattr(inferred, "is_function", False):
                target, attributes = inferred, inferred.instance_attrs
            else:
                target, attributes = inferred, getattr(inferred, "locals", None)
            if attributes is not None and target.root() is not source:
                found.append(attributes)
    except (InferenceError, AttributeError):
        pass
    return found


class _alarm:
    """SIGALRM-based time limit (where the platform has it; otherwise no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds and hasattr(signal, "setitimer") else None

    def __enter__(self) -> None:
        if self.seconds:
            signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: object) -> None:
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)


def _raise_timeout(signum: int, frame: Any) -> None:
    raise _Timeout


# ---- worker-process entry points (a multiprocessing pool calls these) ----

_WORKER: SnippetLinter | None = None
_TIMEOUT: float | None = None
_INIT_ERROR: str | None = None


def init_worker(timeout: float | None, parent_cwd: str, root: str | None = None) -> None:
    """Pool initializer: isolate the process, then build its linter once.

    The parent's working directory (where the user's own modules may lie) leaves ``sys.path``,
    as ``pylint`` itself does for its working directory."""
    global _WORKER, _TIMEOUT, _INIT_ERROR
    try:
        _init(timeout, parent_cwd, root)
    except Exception as exc:  # reported by worker_status(); raising here would respawn forever
        _INIT_ERROR = f"{type(exc).__name__}: {exc}"


def _init(timeout: float | None, parent_cwd: str, root: str | None) -> None:
    global _WORKER, _TIMEOUT
    workdir = tempfile.mkdtemp(prefix="llmkit-lint-", dir=root)
    os.chdir(workdir)
    parent = os.path.abspath(parent_cwd)
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".") and os.path.abspath(entry) != parent]
    _WORKER = SnippetLinter(workdir)
    _TIMEOUT = timeout


def worker_status(_: object = None) -> str | None:
    """None when this worker is ready, else why its initialisation failed."""
    return _INIT_ERROR if _WORKER is None else None


def lint_in_worker(code: str) -> LintResult:
    if _WORKER is None:
        raise RuntimeError(f"lint worker not initialised: {_INIT_ERROR}")
    try:
        return _WORKER.score(code, _TIMEOUT)
    except Exception as exc:  # pylint crashed outside its own handlers: a per-snippet failure
        _WORKER._reset(full=True)
        return LintResult(None, comment_ratio(code), f"pylint failed: {type(exc).__name__}: {exc}")
