"""What a run's report says of a Ray cluster (``--executor ray``): its nodes and resources, and
what each replica did (batches, counts, generation), gathered by the driver from the rows the
replicas send back. Each replica counts its own generation in its process
(:func:`count_in_replica`) and hands the counts since its last call with each batch's row
(:func:`take_usage`); the driver adds them (:class:`ClusterTally`) and notes the whole into the
run's report, which the driver writes itself when the run ends."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from llmkit import report
from llmkit.summary import Summary


def count_in_replica() -> None:
    """Count this replica's generation (a Ray worker has no CLI run of its own)."""
    report.record_here()


def take_usage() -> dict[str, Any] | None:
    """The generation counted since the last call (None when nothing was generated)."""
    recorder = report.current()
    if recorder is None or not recorder.generation:
        return None
    with report.lock:  # the engine's clock notes from the thread of the batch in the engine
        usage, recorder.generation = recorder.generation, report.Generation()
    return usage.as_dict(rounded=False)  # the driver adds them up: rounded once, in its report


def replica_identity() -> dict[str, Any]:
    """The replica (its actor id) and the node it runs on."""
    import ray

    context = ray.get_runtime_context()
    return {"replica": context.get_actor_id(), "node": context.get_node_id(), "ip": ray.util.get_node_ip_address()}


@dataclasses.dataclass
class ClusterTally:
    """Per-replica counts, added up on the driver as the rows come back."""

    replicas: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def add(self, identity: dict[str, Any] | None, usage: dict[str, Any] | None, counts: Summary) -> None:
        if identity is None:
            return
        entry = self.replicas.setdefault(identity["replica"], {**identity, "batches": 0, "in": 0, "out": 0, "rejected": 0,
                                                                 "generated_tokens": 0, "requests": 0})
        entry["batches"] += 1
        entry["in"] += counts.read
        entry["out"] += counts.written
        entry["rejected"] += sum(counts.rejected.values())
        if usage is not None:
            entry["generated_tokens"] += usage["generated_tokens"]
            entry["requests"] += usage["requests"]
            if "engine_busy_s" in usage:  # the replica's own engine, timed where it runs
                entry["engine_busy_s"] = entry.get("engine_busy_s", 0.0) + usage["engine_busy_s"]
                entry["engine_idle_s"] = entry.get("engine_idle_s", 0.0) + usage["engine_idle_s"]
            add_usage(usage)

    def note(self, ray: Any, replicas_asked: int) -> None:
        """Note the cluster and the replicas' counts into the run's report (if one is asked)."""
        if report.current() is None:
            return
        try:
            nodes = [{"node": n.get("NodeID"), "ip": n.get("NodeManagerAddress"), "alive": bool(n.get("Alive")),
                      "resources": n.get("Resources", {})} for n in ray.nodes()]
            resources = dict(ray.cluster_resources())
        except Exception:  # noqa: BLE001 - a cluster gone at the end still leaves the replicas' counts
            nodes, resources = [], {}
        report.note_cluster({"executor": "ray", "nodes": nodes, "resources": resources, "replicas_asked": replicas_asked,
                             "replicas": [_replica(entry) for entry in self.replicas.values()]})


def _replica(entry: dict[str, Any]) -> dict[str, Any]:
    """A replica as the report says it: its engine's idle share from its own seconds."""
    if "engine_busy_s" not in entry:
        return entry
    return {**entry, **report.engine_times(entry["engine_busy_s"], entry["engine_idle_s"])}


def add_usage(usage: dict[str, Any]) -> None:
    """Add a replica's generation counts into the run's report."""
    recorder = report.current()
    if recorder is None:
        return
    total = recorder.generation
    for name in ("requests", "prompt_tokens", "generated_tokens", "completions", "retries"):
        setattr(total, name, getattr(total, name) + usage[name])
    total.backend_errors.update(Counter(usage["backend_errors"]))
    total.request_retries.update(Counter(usage.get("request_retries", {})))
    if "engine_busy_s" in usage:  # the run's: every replica's engine-seconds added up
        total.add_engine_time(usage["engine_busy_s"], usage["engine_idle_s"])
