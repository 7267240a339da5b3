"""Adding up the reports of one job: the shards of one input (``--shard K/N`` on N machines) or
the runs of a cron line (one a night, or one that resumed another).

Reports add up when they are of one job: the same command, the same options (those that say
which part of the input, where it went and how fast aside: inputs, outputs, shard, resume,
limit, batch size, the executor's), the same model and the same prompts. Anything else is a
:class:`~llmkit.errors.UsageError` naming the first difference: a sum of two different jobs
would describe no dataset.

Counts, tokens and times add up. For the shards of one input, ``other_shards`` is what none of
them took (0 once every shard is in), so N shard reports add up to the report of one unsharded
run; ``lines_read`` likewise counts each input line once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llmkit.errors import UsageError
from llmkit.report import engine_times
from llmkit.summary import by_stage, most_first

#: options that say which part of the input a run took, where it wrote, or how fast: they may
#: differ between the runs of one job
ASIDE = frozenset({
    "--input", "--output", "--rejects", "--shard", "--resume", "--limit", "--quiet", "--batch-size",
    "--executor", "--ray-address", "--replicas", "--cpus-per-replica", "--gpus-per-replica", "--stall-timeout",
})
_COUNTS = ("in", "out", "rejected", "invalid_lines", "skipped_resume")
_GENERATION = ("requests", "prompt_tokens", "generated_tokens", "completions", "retries")


def check_same_job(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """UsageError naming the first report that is not of the first one's job, and why."""
    first_path, first = reports[0]
    for path, other in reports[1:]:
        reason = _difference(first, other)
        if reason is not None:
            raise UsageError(f"{path} is not a run of the same job as {first_path}: {reason}")


def _difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a.get("command") != b.get("command"):
        return f"command {b.get('command')!r}, not {a.get('command')!r}"
    options_a, options_b = _job_options(a), _job_options(b)
    for flag in sorted(options_a.keys() | options_b.keys()):
        if options_a.get(flag) != options_b.get(flag):
            return f"option {flag} is {options_b.get(flag)!r}, not {options_a.get(flag)!r}"
    model_a, model_b = _model_identity(a), _model_identity(b)
    for key in model_a.keys() & model_b.keys():
        if model_a[key] is not None and model_b[key] is not None and model_a[key] != model_b[key]:
            return f"model {key} {model_b[key]!r}, not {model_a[key]!r}"
    prompts_a, prompts_b = _prompts(a), _prompts(b)
    if prompts_a and prompts_b and prompts_a != prompts_b:  # a run stopped before reading them has none
        return "the prompts differ (their SHA-256)"
    return None


def _job_options(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (report.get("options") or {}).items() if k not in ASIDE}


def _model_identity(report: dict[str, Any]) -> dict[str, Any]:
    model = report.get("model") or {}
    return {key: model.get(key) for key in ("name", "sha256", "revision", "backend")}


def _prompts(report: dict[str, Any]) -> list[str]:
    return sorted(p["sha256"] for p in report.get("prompts") or [])


def merge_reports(reports: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The report of the job whose runs ``reports`` are (each with the path it was read from)."""
    check_same_job(reports)
    bodies = [report for _, report in reports]
    first = bodies[0]
    statuses = [r["exit_status"] for r in bodies]
    outcomes = {r["outcome"] for r in bodies}
    failed = next((r for r in bodies if r["exit_status"] != 0), None)
    return {
        "report_version": first["report_version"],
        "command": first["command"],
        "argv": [],  # each run's is in merged_from
        "outcome": outcomes.pop() if len(outcomes) == 1 else "mixed",
        "exit_status": next((s for s in statuses if s != 0), 0),
        "error": failed["error"] if failed is not None else None,
        "software": first["software"],
        "host": ", ".join(dict.fromkeys(r["host"] for r in bodies)),
        "started_at": min(r["started_at"] for r in bodies),
        "ended_at": max(r["ended_at"] for r in bodies),
        "options": _job_options(first),
        "prompts": next((r["prompts"] for r in bodies if r.get("prompts")), []),
        "model": next((r["model"] for r in bodies if r.get("model")), None),
        "inputs": _merge_inputs(bodies),
        "counts": _merge_counts(bodies),
        "generation": _merge_generation(bodies),
        "time": _merge_time(bodies),
        "merged_from": [_origin(path, r) for path, r in reports],
    }


def _origin(path: str, report: dict[str, Any]) -> dict[str, Any]:
    inputs = report.get("inputs") or {}
    return {"path": path, "host": report["host"], "started_at": report["started_at"], "exit_status": report["exit_status"],
            "shard": inputs.get("shard"), "llmkit": report["software"].get("llmkit"), "argv": report["argv"]}


def _one_input(inputs: Sequence[dict[str, Any]]) -> bool:
    """Whether every run read the same input (the same paths, of the same sizes): shards of it,
    or runs that resumed one another. Runs over other files (a night's new file) just add up."""
    return len({tuple((p["path"], p["bytes"]) for p in i["paths"]) for i in inputs}) == 1


def _merge_inputs(bodies: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    inputs = [r["inputs"] for r in bodies if r.get("inputs")]
    if not inputs:
        return None
    skipped = sum(i["resume_skipped"] for i in inputs)
    if _one_input(inputs):
        # each run read the whole input; the lines it took itself are those neither left to other
        # shards nor done before (--resume): what no run took, nor found done, is other shards'
        length = max(i["lines_read"] for i in inputs)
        taken = sum(i["lines_read"] - i["other_shards"] - i["resume_skipped"] for i in inputs)
        other = max(0, length - taken - skipped)
        lines = min(length, taken + skipped + other)
    else:
        other = sum(i["other_shards"] for i in inputs)
        lines = sum(i["lines_read"] for i in inputs)
    paths: dict[str, Any] = {}
    for i in inputs:
        for p in i["paths"]:
            paths.setdefault(p["path"], p["bytes"])
    return {
        "paths": [{"path": path, "bytes": size} for path, size in paths.items()],
        "lines_read": lines,
        "records_taken": sum(i["records_taken"] for i in inputs),
        "bad_lines": sum(i["bad_lines"] for i in inputs),
        "shard": _shards(inputs),
        "resume": any(i["resume"] for i in inputs),
        "resume_skipped": skipped,
        "other_shards": other,
        "limit": None,
    }


def _shards(inputs: Sequence[dict[str, Any]]) -> str | None:
    """The shards the runs took ("1,3/4"); None when every run took all (or all shards are in)."""
    given = {i["shard"] for i in inputs}
    if None in given or len({s.split("/")[1] for s in given}) != 1:
        return None
    parts = int(next(iter(given)).split("/")[1])
    ks = sorted({int(s.split("/")[0]) for s in given})
    return None if len(ks) == parts else ",".join(map(str, ks)) + f"/{parts}"


def _merge_counts(bodies: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    counts = [r["counts"] for r in bodies if r.get("counts")]
    if not counts:
        return None
    merged: dict[str, Any] = {name: sum(c[name] for c in counts) for name in _COUNTS}
    merged["rejected_by_reason"] = dict(most_first(_added(c["rejected_by_reason"] for c in counts)))
    stages = _added(
        {(stage, reason): n for stage, by_reason in c["rejected_by_stage"].items() for reason, n in by_reason.items()}
        for c in counts
    )
    merged["rejected_by_stage"] = by_stage(stages)
    inputs = _merge_inputs(bodies)
    merged["other_shards"] = inputs["other_shards"] if inputs is not None else sum(c["other_shards"] for c in counts)
    keys = ("in", "out", "rejected", "rejected_by_reason", "rejected_by_stage", "invalid_lines", "skipped_resume", "other_shards")
    return {key: merged[key] for key in keys}


def _merge_generation(bodies: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    generations = [r["generation"] for r in bodies if r.get("generation")]
    if not generations:
        return None
    merged: dict[str, Any] = {name: sum(g[name] for g in generations) for name in _GENERATION}
    merged["backend_errors"] = dict(_added(g["backend_errors"] for g in generations))
    merged["request_retries"] = dict(_added(g.get("request_retries", {}) for g in generations))
    timed = [g for g in generations if "engine_busy_s" in g]
    if timed:  # seconds add up; the idle share is that of the sums, not an average of shares
        merged.update(engine_times(sum(g["engine_busy_s"] for g in timed), sum(g["engine_idle_s"] for g in timed)))
    return merged


def _added(counts: Iterable[Mapping[Any, int]]) -> Counter:
    """Counts by key, added up across reports."""
    total: Counter = Counter()
    for count in counts:
        total.update(count)
    return total


def _merge_time(bodies: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seconds add up (machine time); rates are per run-second, the average speed of one run."""
    times = [r["time"] for r in bodies]
    run_s = sum(t["run_s"] or 0.0 for t in times)
    firsts = [t["first_out_s"] for t in times if t["first_out_s"] is not None]
    counts = _merge_counts(bodies)
    generation = _merge_generation(bodies)
    return {
        "wall_s": round(sum(t["wall_s"] for t in times), 3),
        "run_s": round(run_s, 3),
        "first_out_s": min(firsts) if firsts else None,
        "records_per_s": round(counts["in"] / run_s, 3) if counts and run_s else None,
        "generated_tokens_per_s": round(generation["generated_tokens"] / run_s, 3)
        if generation and generation["generated_tokens"] and run_s else None,
    }
