"""``--executor ray`` run from a driver folder that is not the cluster's: every relative path
(input, side files, model folder, -o, --rejects) names the driver's file, a read-only output
folder is exit 74, and ``--resume`` clears the partial parts a failed write left."""

from __future__ import annotations

import shutil
import subprocess
import sys

import orjson
import pytest

from tests.ray.test_ray_executor import RAY, SYNTAX, by_id, counts, run_local, snippets, write_jsonl

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_relative_input_and_outputs_name_the_drivers_files(ray_cluster, tmp_path):
    """A decoy ``in.jsonl`` of 5 records where the nodes run: the run reads the driver's 12."""
    driver = tmp_path / "driver"
    driver.mkdir()
    write_jsonl(driver / "in.jsonl", snippets(12))
    write_jsonl(ray_cluster.folder / "in.jsonl", snippets(5))
    try:
        args = ["-i", "in.jsonl", "-o", "out", "--rejects", "rej"]
        local = run_local([*SYNTAX, "-i", "in.jsonl", "-o", "local.jsonl", "--rejects", "local_rej.jsonl"], cwd=driver)
        done = ray_cluster.llmkit([*SYNTAX, *RAY, *args], cwd=driver)
    finally:
        (ray_cluster.folder / "in.jsonl").unlink()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert counts(done.stderr) == counts(local.stderr)
    assert counts(done.stderr).startswith("llmkit: in 12, out 8, rejected 4")
    assert by_id(driver / "out") == by_id(driver / "local.jsonl")
    # the rejects name the line as the user named the file, as a local run does
    assert by_id(driver / "rej") == by_id(driver / "local_rej.jsonl")
    assert by_id(driver / "rej")[0]["reject"]["source"] == "in.jsonl:1"
    assert not (ray_cluster.folder / "out").exists()


def test_relative_model_folder_and_prompt_file(ray_cluster, tmp_path, tiny_llama):
    """A model given as a relative folder is opened by the replica, on its node, from the
    driver's folder; a relative prompt file is the driver's too."""
    driver = tmp_path / "driver"
    driver.mkdir()
    shutil.copytree(tiny_llama, driver / "model")
    (driver / "prompt.txt").write_text("Rewrite this: {text}\n")
    write_jsonl(driver / "in.jsonl", [{"id": n, "text": f"{n} plus {n}"} for n in range(4)])
    args = ["rewrite-math", "--backend", "hf", "--model", "model", "--prompt", "prompt.txt", "--max-tokens", "4",
            "--temperature", "0", "--batch-size", "2", "-i", "in.jsonl"]
    local = run_local([*args, "-o", "local.jsonl", "--rejects", "local_rej.jsonl"], cwd=driver)
    assert local.returncode == 0, local.stderr.decode()[-3000:]
    done = ray_cluster.llmkit([*args, *RAY, "--cpus-per-replica", "0.5", "-o", "out", "--rejects", "rej"], cwd=driver)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert by_id(driver / "out") == by_id(driver / "local.jsonl")
    assert by_id(driver / "rej") == by_id(driver / "local_rej.jsonl")
    assert counts(done.stderr) == counts(local.stderr)


def test_read_only_output_folder_is_exit_74(ray_cluster, tmp_path):
    """An existing folder on a read-only mount (read-only for root too) cannot take the run's
    lock file: exit 74, an output that cannot be written, before Ray starts."""
    if not shutil.which("unshare") or not shutil.which("mount"):
        pytest.skip("a read-only mount needs unshare and mount")
    data = write_jsonl(tmp_path / "in.jsonl", snippets(4))
    out = tmp_path / "out"
    out.mkdir()
    command = (f"mount --bind {out} {out} && mount -o remount,bind,ro {out} && "
               f"exec {sys.executable} -m llmkit {' '.join([*SYNTAX, *RAY])} -i {data} -o {out}")
    done = subprocess.run(ray_cluster.command(["unshare", "-m", "--propagation", "private", "sh", "-c", command]),
                          env=ray_cluster.env, capture_output=True, timeout=300, check=False)
    assert done.returncode == 74, done.stderr.decode()[-3000:]
    assert f"-o {out} cannot be written" in done.stderr.decode()
    assert "Read-only file system" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()


def test_resume_removes_partial_parts_of_a_failed_write(ray_cluster, tmp_path):
    """Partial parts a killed write left (``.part-*.tmp``) go when --resume starts; the finished
    parts stay and the run completes the input with no gap and no duplicate."""
    data = write_jsonl(tmp_path / "in.jsonl", snippets(8))
    args = [*SYNTAX, *RAY, "-i", str(data), "-o", str(tmp_path / "out"), "--rejects", str(tmp_path / "rej")]
    first = ray_cluster.llmkit(args)
    assert first.returncode == 0, first.stderr.decode()[-3000:]
    parts = sorted((tmp_path / "out").glob("part-*.jsonl"))
    # the state a write killed half way leaves: one part never finished, its temporary half written
    lost = parts[-1]
    half = lost.read_bytes()[: len(lost.read_bytes()) // 2]
    (tmp_path / "out" / f".{lost.name}.123-abcdef01.tmp").write_bytes(half)
    (tmp_path / "rej" / ".part-x.jsonl.9-00000000.tmp").write_bytes(b'{"id": 99')
    lost.unlink()
    again = ray_cluster.llmkit([*args, "--resume"])
    assert again.returncode == 0, again.stderr.decode()[-3000:]
    assert not list((tmp_path / "out").glob(".part-*.tmp")) and not list((tmp_path / "rej").glob(".part-*.tmp"))
    assert (by_id(tmp_path / "out").keys() | by_id(tmp_path / "rej").keys()) == set(range(8))
    assert by_id(tmp_path / "out").keys().isdisjoint(by_id(tmp_path / "rej").keys())
    assert all(orjson.loads(line) for part in (tmp_path / "out").glob("part-*") for line in part.read_bytes().splitlines())
