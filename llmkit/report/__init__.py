"""Run reports: what one run of a subcommand did, as a JSON document (``--report PATH``).

The CLI (:func:`llmkit.cli.run`) starts a :class:`RunRecorder` for each run; a command given
``--report`` (or ``LLMKIT_REPORT``) claims the path at once, as a side output (never an input,
``-o`` or ``--rejects``; locked for the run), and the document is written whole (a temporary file
renamed onto the path) when the run ends, whatever its outcome. While the run goes, the core
notes into the recorder what only it knows: the contract's summary (:func:`note_run`), the prompt
files (:func:`note_prompt`), the backend opened (:func:`note_backend`) and what generation cost
(:func:`note_results`), and how long the backend's engine was busy and idle
(:func:`note_engine_time`); with no report asked, each note is a no-op. The fields are those of
``llmkit/data/report.schema.json``.

The package: this module is the recorder (what ``from llmkit import report`` gives);
:mod:`~llmkit.report.option` adds ``--report`` to every command, :mod:`~llmkit.report.model`
says which model a run used, :mod:`~llmkit.report.ray` gathers a Ray run's replicas,
:mod:`~llmkit.report.merge` adds reports up, :mod:`~llmkit.report.tables` shows one, and
:mod:`~llmkit.report.cli` is ``llmkit report merge|show``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import platform
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from llmkit.errors import LlmkitError, UsageError
from llmkit.redact import Redactor, is_secret_name, secrets_in_environment
from llmkit.report.model import describe_model
from llmkit.side_outputs import SideOutput, SideOutputs
from llmkit.summary import Summary

REPORT_VERSION = 1
REPORT_ENV = "LLMKIT_REPORT"

#: the exit statuses of :mod:`llmkit.errors`, by the word a report says for each
OUTCOMES = {0: "done", 2: "usage", 65: "bad_input", 69: "backend_unavailable", 70: "internal",
            74: "output_failed", 75: "locked", 130: "interrupted"}
#: libraries whose versions a report names when the run imported them (never imported for it)
LIBRARIES = ("torch", "transformers", "vllm", "ray", "httpx")
#: backend options that are sampling values of each call, not how the engine was built
_SAMPLING_FIELDS = frozenset({"model", "max_tokens", "temperature", "top_p", "top_k", "seed", "chat"})


@dataclasses.dataclass
class Generation:
    """What the generation path asked of a backend: prompts, tokens, failures by kind."""

    requests: int = 0
    prompt_tokens: int = 0
    generated_tokens: int = 0
    completions: int = 0
    retries: int = 0
    backend_errors: Counter = dataclasses.field(default_factory=Counter)
    #: requests to a server sent again (connection errors, 429, 5xx), by what went wrong
    request_retries: Counter = dataclasses.field(default_factory=Counter)
    #: seconds the engine held requests of the run, and held none between them (a backend that
    #: times its engine: vllm); None when no engine was timed
    engine_busy_s: float | None = None
    engine_idle_s: float | None = None

    def as_dict(self, rounded: bool = True) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["backend_errors"] = dict(self.backend_errors)
        fields["request_retries"] = dict(self.request_retries)
        if self.engine_busy_s is None or self.engine_idle_s is None:  # hf, openai: left out, not 0
            del fields["engine_busy_s"], fields["engine_idle_s"]
        else:
            fields.update(engine_times(self.engine_busy_s, self.engine_idle_s, rounded))
        return fields

    def add_engine_time(self, busy: float, idle: float) -> None:
        self.engine_busy_s = (self.engine_busy_s or 0.0) + busy
        self.engine_idle_s = (self.engine_idle_s or 0.0) + idle

    def __bool__(self) -> bool:
        return bool(self.requests or self.request_retries or self.engine_busy_s is not None)


def engine_times(busy: float, idle: float, rounded: bool = True) -> dict[str, Any]:
    """The report's engine fields: seconds busy and idle, and the idle share of their sum
    (recomputed from the seconds wherever they are added up, never averaged)."""
    span = busy + idle
    share = idle / span if span > 0 else None
    if not rounded:
        return {"engine_busy_s": busy, "engine_idle_s": idle, "engine_idle_share": share}
    return {"engine_busy_s": round(busy, 3), "engine_idle_s": round(idle, 3),
            "engine_idle_share": round(share, 4) if share is not None else None}


@dataclasses.dataclass
class _Pass:
    """One :func:`llmkit.run_step` of the run: its options and its summary (filled as it goes)."""

    options: Any
    summary: Summary


class RunRecorder:
    """Everything a report says about one run, gathered while it goes."""

    def __init__(self, argv: Sequence[str], plugins: dict[str, str]) -> None:
        self.argv = list(argv)
        self.plugins = plugins
        self.started_at = datetime.now(timezone.utc)
        self.started = time.monotonic()
        self.command: str | None = None
        self.options: dict[str, Any] = {}
        self.prompts: dict[str, str] = {}
        self.passes: list[_Pass] = []
        self.backend: dict[str, Any] | None = None
        self.generation = Generation()
        self.cluster: dict[str, Any] | None = None
        self.side: SideOutputs | None = None
        self.target: SideOutput | None = None

    # -- the claim ---------------------------------------------------------------------------

    def claim(self, path: str, io: Any) -> None:
        """Claim ``path`` for the report now, checked against ``io``'s inputs and outputs (any
        object with ``inputs``, ``output`` and ``rejects``; None for a command without them)."""
        side = SideOutputs(io)
        try:
            self.target = side.file("--report", path)
        except BaseException:
            side.close(failed=True)
            raise
        self.side = side

    # -- what the run notes ------------------------------------------------------------------

    def note_command(self, name: str, options: dict[str, Any]) -> None:
        self.command = name
        self.options = options

    def note_run(self, options: Any, summary: Summary) -> None:
        self.passes.append(_Pass(options, summary))

    def note_prompt(self, origin: str, text: str) -> None:
        self.prompts[origin] = hashlib.sha256(text.encode("utf-8")).hexdigest()

    def note_backend(self, backend: Any, options: Any) -> None:
        used = getattr(backend, "engine_args", None)
        if used is None:  # a backend that does not say what it uses: every option but sampling values
            fields = dataclasses.asdict(options) if dataclasses.is_dataclass(options) and not isinstance(options, type) else {}
            used = {k: v for k, v in fields.items() if k not in _SAMPLING_FIELDS}
        engine = {k: _plain(v) for k, v in used.items() if not is_secret_name(k)}
        self.backend = {"name": backend.name, "engine_args": engine}

    def note_results(self, results: Sequence[Any], retries: bool = False) -> None:
        usage = self.generation
        usage.requests += len(results)
        if retries:
            usage.retries += len(results)
        # sums kept in locals: this runs for every result of a run that asked for a report
        prompt_tokens = generated_tokens = completions = 0
        for result in results:
            if result.error is not None:
                usage.backend_errors[result.error] += 1
            ids = result.prompt_token_ids
            if ids is not None:
                prompt_tokens += len(ids)
            answers = result.completions
            completions += len(answers)
            for completion in answers:
                generated_tokens += len(completion.token_ids)
        usage.prompt_tokens += prompt_tokens
        usage.generated_tokens += generated_tokens
        usage.completions += completions

    def note_cluster(self, cluster: dict[str, Any]) -> None:
        self.cluster = cluster

    # -- the document ------------------------------------------------------------------------

    def document(self, status: int, error: str | None) -> dict[str, Any]:
        """The report of the run that ended with exit ``status`` (and the message of its error)."""
        ended = time.monotonic()
        redactor = Redactor(secrets_in_environment(named=_named_secret_envs(self.options)))
        last = self.passes[-1] if self.passes else None
        summary = last.summary if last is not None else None
        report: dict[str, Any] = {
            "report_version": REPORT_VERSION,
            "command": self.command,
            "argv": redactor.argv(self.argv),
            "outcome": OUTCOMES.get(status, "failed"),
            "exit_status": status,
            "error": redactor.text(error) if error else None,
            "software": self._software(),
            "host": socket.gethostname(),
            "started_at": _iso(self.started_at),
            "ended_at": _iso(datetime.now(timezone.utc)),
            "options": redactor.value({k: "[redacted]" if is_secret_name(k) else v for k, v in self.options.items()}),
            "prompts": [{"path": path, "sha256": digest} for path, digest in self.prompts.items()],
            "model": redactor.value(describe_model(self.options.get("--model"), self.backend)),  # a URL's password
            "inputs": _inputs(last),
            "counts": _counts(summary),
            "generation": self.generation.as_dict() if self.generation else None,
            "time": _times(ended - self.started, summary, self.generation),
        }
        if len(self.passes) > 1:  # a command of several passes: each one's counts; ``counts`` is the last
            report["passes"] = [_counts(p.summary) for p in self.passes]
        if self.cluster is not None:
            report["cluster"] = self.cluster
        return report

    def _software(self) -> dict[str, Any]:
        from llmkit import __version__

        loaded = {name: getattr(sys.modules[name], "__version__", None) for name in LIBRARIES if name in sys.modules}
        return {"llmkit": __version__, "plugins": self.plugins, "python": platform.python_version(),
                "platform": platform.platform(), **{name: str(v) for name, v in loaded.items() if v is not None}}

    def write(self, status: int, error: str | None) -> None:
        """Write the report whole onto the claimed path (OutputError, exit 74, when it cannot be)."""
        import orjson

        if self.target is None:
            return
        data = orjson.dumps(self.document(status, error), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        self.target.write_bytes(data)

    def close(self) -> None:
        if self.side is not None:
            self.side.close(failed=self.target is not None and not self.target.written)
            self.side = None
        self.target = None


#: the recorder of the run in progress, once it has claimed a report path (else the core's notes
#: go nowhere and cost one test each)
_current: RunRecorder | None = None
lock = threading.Lock()
#: the recorder of the run in progress, before the command is known
_pending: RunRecorder | None = None


def start(argv: Sequence[str], plugins: dict[str, str]) -> RunRecorder:
    """The recorder of the run that begins now (``plugins``: name and version of each loaded)."""
    global _current, _pending
    _current = None
    _pending = RunRecorder(argv, plugins)
    return _pending


def begin_command(name: str, options: dict[str, Any], path: str | None) -> None:
    """The command ``name`` runs with ``options`` (by flag, after defaults): with a report
    ``path``, the path is claimed now, before the command does anything, and notes are taken."""
    global _current
    recorder = _pending
    if recorder is None:  # the command was called from Python, outside the CLI
        return
    recorder.note_command(name, plain_options(options))
    if path:
        recorder.claim(path, io_of(recorder.options))  # the contract's own files, with its messages
        try:
            check_not_named(path, recorder.options)
        except UsageError:
            recorder.close()
            raise
        _current = recorder


def check_not_named(path: str, options: dict[str, Any]) -> None:
    """UsageError when another option names the report's file: whatever a command reads (an
    input under any name: ``--needles``, ``--heads``) or writes, a report written over it would
    destroy it."""
    for flag, value in options.items():
        if flag in _CONTRACT_FILES and "--input" in options:
            continue  # checked by the claim (io_of), which names them as the rest of the core does
        for given in value if isinstance(value, list) else [value]:
            if isinstance(given, str) and given not in ("", "-") and _same_file(given, path):
                raise UsageError(
                    f"--report {path} is the input or output {flag} {given}: the report would destroy it; "
                    "give the report a file of its own"
                )


_CONTRACT_FILES = frozenset({"--input", "--output", "--rejects"})


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(os.path.expanduser(a), os.path.expanduser(b))
    except (OSError, ValueError):  # one is not there yet: a path that looks like one (not a field name)
        looks_like_path = os.sep in a or "." in a
        return looks_like_path and os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def finish(recorder: RunRecorder, status: int, error: str | None) -> int:
    """Write the report of the run that ended with ``status``, if one was asked; the status to
    exit with (74 when the report could not be written after an otherwise successful run)."""
    global _current, _pending
    _current = _pending = None
    try:
        recorder.write(status, error)
    except LlmkitError as exc:
        print(f"llmkit: error: {exc}", file=sys.stderr)
        status = status or exc.exit_code
    finally:
        recorder.close()
    return status


def current() -> RunRecorder | None:
    """The recorder the core's notes go to now (None: no report is asked)."""
    return _current


def record_here() -> RunRecorder:
    """Take notes in this process though it runs no command (a Ray replica counts its generation)."""
    global _current
    if _current is None:
        _current = RunRecorder([], {})
    return _current


def note_run(options: Any, summary: Summary) -> None:
    """A run of the contract began with these options; ``summary`` is its summary, filled as it goes."""
    if _current is not None:
        _current.note_run(options, summary)


def note_prompt(origin: str, text: str) -> None:
    """A prompt template was read (its path, or package/prompts/NAME.txt, and its text)."""
    if _current is not None:
        _current.note_prompt(origin, text)


def note_backend(backend: Any, options: Any) -> None:
    """A generation backend was opened (with these options; its ``engine_args``: what it uses of them)."""
    if _current is not None:
        _current.note_backend(backend, options)


def note_results(results: Sequence[Any], retries: bool = False) -> None:
    """A backend answered these results (``retries``: of prompts asked again)."""
    if _current is not None:
        _current.note_results(results, retries)


def note_engine_time(busy: float, idle: float) -> None:
    """The backend's engine held requests of the run for ``busy`` more seconds, or none for
    ``idle`` (see :mod:`llmkit.backends._engine_clock`)."""
    if _current is not None:
        with lock:  # a Ray replica takes its counts from another thread (report.ray.take_usage)
            _current.generation.add_engine_time(busy, idle)


def note_request_retry(error: str) -> None:
    """A request to a server is sent again after ``error``; counted by its kind (``HTTP 503``,
    ``ConnectError``, ``timeout``), never by its text (which may quote the server)."""
    if _current is not None:
        kind = "timeout" if error.endswith("(timeout)") else error.partition(":")[0][:40] or "closed"
        with lock:  # the openai backend's requests run in threads
            _current.generation.request_retries[kind] += 1


def note_cluster(cluster: dict[str, Any]) -> None:
    """The Ray cluster the run used, and what each replica did."""
    if _current is not None:
        _current.note_cluster(cluster)


def io_of(options: dict[str, Any]) -> Any:
    """The inputs and outputs of a command, from its options by their flags (what the report's
    path must differ from); None for a command without an input."""
    if "--input" not in options:
        return None
    return SimpleNamespace(inputs=options.get("--input"), output=options.get("--output"), rejects=options.get("--rejects"))


def _named_secret_envs(options: dict[str, Any]) -> list[str]:
    """Environment variables the options name as holding a secret (``--api-key-env NAME``)."""
    return [v for k, v in options.items() if isinstance(v, str) and k.endswith("-env") and is_secret_name(k[:-4])]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """An option's value as JSON: an enum by its value, a tuple as a list, a path as text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    return str(value)


def plain_options(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in values.items()}


def _inputs(run: _Pass | None) -> dict[str, Any] | None:
    if run is None:
        return None
    options, summary = run.options, run.summary
    paths = list(getattr(options, "inputs", None) or ["-"])
    skipped_bad = summary.rejected.get("invalid_line", 0)  # bad lines taken in and rejected (--on-error skip)
    stopped_on = summary.invalid - skipped_bad  # the bad line a run stopped on (exit 65), never taken in
    return {
        "paths": [{"path": path, "bytes": _size(path)} for path in paths],
        "lines_read": summary.read + stopped_on + summary.skipped + summary.other_shards,
        "records_taken": summary.read - skipped_bad,
        "bad_lines": summary.invalid,
        "shard": getattr(options, "shard", None),
        "resume": bool(getattr(options, "resume", False)),
        "resume_skipped": summary.skipped,
        "other_shards": summary.other_shards,
        "limit": getattr(options, "limit", None),
    }


def _size(path: str) -> int | None:
    """Bytes of an input file (stdin when it is a file); a folder's files added; None for a pipe."""
    try:
        info = os.fstat(0) if path == "-" else os.stat(path)
    except (OSError, ValueError):
        return None
    if os.path.isdir(path) and path != "-":
        return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return info.st_size if info.st_size or not path == "-" else None


def _counts(summary: Summary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    counts = summary.as_dict()
    counts.pop("seconds")
    counts["rejected_by_stage"] = summary.stages()
    return counts


def _times(wall: float, summary: Summary | None, generation: Generation) -> dict[str, Any]:
    seconds = summary.seconds if summary is not None else None
    return {
        "wall_s": round(wall, 3),
        "run_s": round(seconds, 3) if seconds is not None else None,
        "first_out_s": round(summary.first_out, 3) if summary is not None and summary.first_out is not None else None,
        "records_per_s": round(summary.read / seconds, 3) if summary is not None and seconds else None,
        "generated_tokens_per_s": round(generation.generated_tokens / seconds, 3)
        if seconds and generation.generated_tokens else None,
    }
