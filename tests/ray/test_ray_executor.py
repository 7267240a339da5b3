"""``--executor ray`` on a real two-node Ray cluster: the same records, rejects, summary and exit
statuses as the local executor; a killed replica leaves no gap and no duplicate."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from llmkit.testing import write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.slow]

GOOD = '"""A module."""\n\n\ndef add(a, b):\n    """Add two numbers."""\n    return a + b + {n}\n'
UNLINTED = "import os\nx=1\n"
BROKEN = "def f(:\n    pass\n"


def snippets(count: int) -> list[dict]:
    records = []
    for n in range(count):
        code = BROKEN if n % 5 == 0 else UNLINTED if n % 4 == 0 else GOOD.format(n=n)
        records.append({"id": n, "text": code})
    records[3] = {"id": 3, "code": GOOD.format(n=3)}  # no "text": missing_field
    return records


def by_id(path: Path) -> dict:
    """The records of a JSONL file or a folder of parts, by id; a duplicate id fails."""
    files = sorted(path.glob("part-*.jsonl")) if path.is_dir() else [path]
    found: dict = {}
    for name in files:
        for line in name.read_bytes().splitlines():
            record = orjson.loads(line)
            assert record["id"] not in found, f"id {record['id']} written twice"
            found[record["id"]] = record
    return found


def counts(stderr: bytes) -> str:
    """The summary line without its timing."""
    line = [x for x in stderr.decode().splitlines() if x.startswith("llmkit: in ")][-1]
    return re.sub(r", [0-9.]+ s \(.*\)$", "", line)


def run_local(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmkit", *args], capture_output=True, timeout=600, check=False, **kwargs)


LINT = ["rewrite-code", "--stages", "syntax,lint", "--workers", "1", "--batch-size", "3"]
RAY = ["--executor", "ray", "--replicas", "2", "--cpus-per-replica", "1", "--stall-timeout", "300"]


def test_lint_stages_same_as_local(ray_cluster, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", snippets(12))
    local = run_local([*LINT, "-i", str(data), "-o", str(tmp_path / "local.jsonl"), "--rejects", str(tmp_path / "local_rej.jsonl")])
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*LINT, *RAY, "-i", str(data), "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    assert by_id(tmp_path / "rej") == by_id(tmp_path / "local_rej.jsonl")
    reasons = {r["reject"]["reason"] for r in by_id(tmp_path / "rej").values()}
    assert reasons == {"syntax", "lint", "missing_field"}
    assert counts(done.stderr) == counts(local.stderr)


def test_generation_same_as_local(ray_cluster, tmp_path, tiny_llama):
    records = [{"id": f"q{n}", "instruction": f"Name a colour number {n}."} for n in range(6)]
    records.append({"id": "q6", "prompt": "no instruction here"})
    data = write_jsonl(tmp_path / "in.jsonl", records)
    gen = ["contrastive-gen", "--backend", "hf", "--expert", str(tiny_llama), "--max-tokens", "6", "--temperature", "0",
           "--batch-size", "2", "-i", str(data)]
    local = run_local([*gen, "-o", str(tmp_path / "local.jsonl"), "--rejects", str(tmp_path / "local_rej.jsonl")])
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*gen, *RAY, "--cpus-per-replica", "0.5", "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    assert len(by_id(tmp_path / "out")) >= 1
    assert by_id(tmp_path / "rej") == by_id(tmp_path / "local_rej.jsonl")
    assert counts(done.stderr) == counts(local.stderr)


def test_killed_replica_no_gap_no_duplicate(ray_cluster, tmp_path):
    records = snippets(30)
    data = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out"
    run = ray_cluster.popen_llmkit([*LINT, *RAY, "--batch-size", "2", "-i", str(data), "-o", str(out),
                                    "--rejects", str(tmp_path / "rej")])
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        actors = ray_cluster.actor_pids()
        if actors and out.is_dir() and any(out.glob("part-*.jsonl")):
            killed = actors[0]
            signal_pid(killed)
        time.sleep(0.2)
    stdout, stderr = run.communicate(timeout=600)
    assert killed is not None, "the run ended before a replica could be killed: " + stderr.decode()[-2000:]
    assert run.returncode == 0, stderr.decode()[-3000:]
    written, rejected = by_id(out), by_id(tmp_path / "rej")  # by_id fails on a duplicate
    assert not written.keys() & rejected.keys()
    assert written.keys() | rejected.keys() == {r["id"] for r in records}
    assert counts(stderr).startswith(f"llmkit: in 30, out {len(written)}, rejected {len(rejected)}")


def signal_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


SYNTAX = ["rewrite-code", "--stages", "syntax", "--batch-size", "2"]


def test_bad_line_fails_naming_it_or_is_rejected(ray_cluster, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in snippets(6)) + b"{not json\n")
    done = ray_cluster.llmkit([*SYNTAX, *RAY, "-i", str(data), "-o", str(tmp_path / "out")])
    assert done.returncode == 65, done.stderr.decode()[-3000:]
    assert f"{data}:7" in done.stderr.decode()
    args = [*SYNTAX, "--on-error", "skip", "-i", str(data)]
    local = run_local([*args, "-o", str(tmp_path / "local.jsonl"), "--rejects", str(tmp_path / "local_rej.jsonl")])
    done = ray_cluster.llmkit([*args, *RAY, "-o", str(tmp_path / "out2"), "--rejects", str(tmp_path / "rej2")])
    assert done.returncode == local.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out2") == by_id(tmp_path / "local.jsonl")
    bad = [orjson.loads(x) for p in sorted((tmp_path / "rej2").glob("part-*")) for x in p.read_bytes().splitlines()]
    assert [r for r in bad if "raw" in r] == [r for r in map(orjson.loads, (tmp_path / "local_rej.jsonl").read_bytes().splitlines()) if "raw" in r]
    assert counts(done.stderr) == counts(local.stderr)


def test_resume_skips_what_the_folder_holds(ray_cluster, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", snippets(8))
    args = [*SYNTAX, *RAY, "-i", str(data), "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")]
    first = ray_cluster.llmkit(args)
    assert first.returncode == 0, first.stderr.decode()[-3000:]
    before = sorted(p.name for p in (tmp_path / "out").glob("part-*"))
    write_jsonl(tmp_path / "in.jsonl", snippets(10))  # two more records since
    again = ray_cluster.llmkit([*args, "--resume"])
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert "skipped (already done) 8" in again.stderr.decode()
    assert set(before) < {p.name for p in (tmp_path / "out").glob("part-*")}  # earlier parts kept
    assert (by_id(tmp_path / "out").keys() | by_id(tmp_path / "rej").keys()) == set(range(10))


def test_without_ray_exit_69_says_what_to_install(tmp_path):
    hidden = tmp_path / "hide"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n")
    data = write_jsonl(tmp_path / "in.jsonl", snippets(6))
    done = subprocess.run([sys.executable, "-m", "llmkit", *SYNTAX, "--executor", "ray", "-i", str(data), "-o", str(tmp_path / "out")],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(hidden)}, timeout=300, check=False)
    assert done.returncode == 69, done.stderr.decode()[-2000:]
    assert "pip install 'llmkit[ray]'" in done.stderr.decode()


def test_aggregate_subcommand_refused(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "label": 1, "score": 0.5}])
    done = run_local(["mia", "eval", "--executor", "ray", "-i", str(data), "-o", str(tmp_path / "out")])
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    assert "--executor ray" in done.stderr.decode() and "locally" in done.stderr.decode()


def test_limit_takes_the_records_a_local_run_takes(ray_cluster, tmp_path):
    """--limit 7 over two files, a bad line skipped among them: the driver cuts the input where a
    local run stops, and the cluster writes the same records, rejects and counts."""
    first = write_jsonl(tmp_path / "a.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in snippets(4)) + b"not json\n")
    second = write_jsonl(tmp_path / "b.jsonl", snippets(10)[4:])
    given = ["-i", str(first), "-i", str(second), "--limit", "7", "--on-error", "skip"]
    local = run_local([*SYNTAX, *given, "-o", str(tmp_path / "local.jsonl"), "--rejects", str(tmp_path / "local_rej.jsonl")])
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*SYNTAX, *RAY, *given, "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    rejected = [orjson.loads(line) for part in (tmp_path / "rej").glob("part-*.jsonl") for line in part.read_bytes().splitlines()]
    local_rejected = [orjson.loads(line) for line in (tmp_path / "local_rej.jsonl").read_bytes().splitlines()]
    assert sorted(map(orjson.dumps, rejected)) == sorted(map(orjson.dumps, local_rejected))
    assert any(r["reject"]["reason"] == "invalid_line" for r in rejected)
    assert counts(done.stderr) == counts(local.stderr)


def test_folder_of_gzip_and_parquet_same_as_local(ray_cluster, tmp_path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "inputs"
    folder.mkdir()
    records = snippets(10)
    first = folder / "a.jsonl.gz"
    first.write_bytes(gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records[:5])))
    second = folder / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": r["id"], "text": r.get("text")} for r in records[5:]]), second)
    local = run_local([*SYNTAX, "-i", str(first), "-i", str(second), "-o", str(tmp_path / "local.jsonl"),
                       "--rejects", str(tmp_path / "local_rej.jsonl")])
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*SYNTAX, *RAY, "-i", str(folder), "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    assert by_id(tmp_path / "rej") == by_id(tmp_path / "local_rej.jsonl")
    assert counts(done.stderr) == counts(local.stderr)


def test_uris_in_and_out_same_as_local_and_resume(ray_cluster, tmp_path):
    """-i as file:// URIs (a folder of .jsonl.gz and Parquet, and a glob), -o and --rejects as
    file:// URIs: the records, rejects and summary of a local run; --resume reads the parts
    back through the file system; without an id under --resume, exit 65 naming the URI's line."""
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    records = snippets(14)
    folder, more = tmp_path / "inputs", tmp_path / "more"
    (folder / "deeper").mkdir(parents=True)
    more.mkdir()
    first = folder / "a.jsonl.gz"
    first.write_bytes(gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records[:5])))
    second = folder / "deeper" / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": r["id"], "text": r.get("text")} for r in records[5:10]]), second)
    third = write_jsonl(more / "c.jsonl", records[10:12])
    local = run_local([*SYNTAX, "-i", str(first), "-i", str(second), "-i", str(third), "-o", str(tmp_path / "local.jsonl"),
                       "--rejects", str(tmp_path / "local_rej.jsonl")])
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    uris = ["-i", f"file://{folder}", "-i", f"file://{more}/*.jsonl", "-o", f"file://{tmp_path}/out", "--rejects", f"file://{tmp_path}/rej"]
    done = ray_cluster.llmkit([*SYNTAX, *RAY, *uris])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    rejects = by_id(tmp_path / "rej")
    assert {k: {**r, "reject": {**r["reject"], "source": None}} for k, r in rejects.items()} == {
        k: {**r, "reject": {**r["reject"], "source": None}} for k, r in by_id(tmp_path / "local_rej.jsonl").items()}
    assert rejects[3]["reject"]["source"] == f"file://{first}:4"  # the URI names the line
    assert counts(done.stderr) == counts(local.stderr)

    write_jsonl(more / "c.jsonl", records[10:])  # two more records since
    again = ray_cluster.llmkit([*SYNTAX, *RAY, *uris, "--resume"])
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert "skipped (already done) 12" in again.stderr.decode()
    assert (by_id(tmp_path / "out").keys() | by_id(tmp_path / "rej").keys()) == set(range(14))

    write_jsonl(more / "c.jsonl", [*records[10:], {"text": GOOD.format(n=99)}])
    no_id = ray_cluster.llmkit([*SYNTAX, *RAY, *uris, "--resume"])
    assert no_id.returncode == 65, no_id.stderr.decode()[-3000:]
    message = no_id.stderr.decode()
    assert f"file://{more}/c.jsonl:5: this record has no 'id'" in message
    assert "with --executor ray --resume (a position is not known across parts), every record needs its own 'id'" in message


GPU = ["--executor", "ray", "--cpus-per-replica", "0.5", "--gpus-per-replica", "1"]


def test_one_gpu_replica_per_node(ray_cluster, tmp_path):
    """Each node declares one GPU: two replicas of one GPU each run (one per node; the syntax
    stage ignores the CUDA_VISIBLE_DEVICES Ray gives them), three stall and end with exit 69
    naming what the cluster lacks."""
    data = write_jsonl(tmp_path / "in.jsonl", snippets(8))
    local = run_local([*SYNTAX, "-i", str(data), "-o", str(tmp_path / "local.jsonl")])
    done = ray_cluster.llmkit([*SYNTAX, *GPU, "--replicas", "2", "--stall-timeout", "300", "-i", str(data), "-o", str(tmp_path / "out")])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(tmp_path / "out") == by_id(tmp_path / "local.jsonl")
    assert counts(done.stderr) == counts(local.stderr)
    stalled = ray_cluster.llmkit([*SYNTAX, *GPU, "--replicas", "3", "--stall-timeout", "15", "-i", str(data), "-o", str(tmp_path / "out3")])
    assert stalled.returncode == 69, stalled.stderr.decode()[-3000:]
    assert "the replicas ask for 3 GPUs (--replicas 3 x --gpus-per-replica 1) and the cluster has 2" in stalled.stderr.decode()


def test_uri_inputs_that_are_not_there_are_exit_2(tmp_path):
    """Refused before Ray starts: a glob that matches nothing, a folder saved by datasets."""
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "dataset_info.json").write_text("{}")
    for given, said in ((f"file://{tmp_path}/*.jsonl", "no file matches"), (f"file://{saved}", "saved by datasets")):
        done = run_local([*SYNTAX, "--executor", "ray", "-i", given, "-o", str(tmp_path / "out")])
        assert done.returncode == 2, done.stderr.decode()[-2000:]
        assert given in done.stderr.decode() and said in done.stderr.decode()
