"""--report: a run's report for each outcome, its counts equal to the summary line, its
provenance (prompt and model hashes, versions), secrets redacted, the schema checked."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import pytest

from llmkit.testing import run_command
from tests.core import demo_plugin, report_plugin

HERE = Path(__file__).parent
RECORDS = [{"id": i, "text": f"record {i}"} for i in range(7)] + [{"id": 7, "other": "no text"}]


def load_report(path: Path) -> dict:
    report = json.loads(path.read_text())
    validate(report)
    return report


def line_counts(report: dict) -> dict:
    """The report's counts that the summary line shows (all but the breakdown by stage)."""
    return {k: v for k, v in report["counts"].items() if k != "rejected_by_stage"}


def validate(report: dict) -> None:
    import jsonschema

    schema = json.loads(files("llmkit").joinpath("data/report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(report)


def test_done_report_counts_equal_the_summary_line(tmp_path):
    run = run_command(["demo", "-i", "in.jsonl", "-o", "out.jsonl", "--report", "run.json"],
                      files={"in.jsonl": RECORDS}, workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 0, run.stderr
    report = load_report(tmp_path / "run.json")
    assert line_counts(report) == run.summary
    assert report["counts"]["in"] == 8 and report["counts"]["out"] == 7
    assert report["counts"]["rejected_by_stage"] == {"upper": {"missing_field": 1}}
    assert (report["command"], report["outcome"], report["exit_status"], report["error"]) == ("demo", "done", 0, None)
    assert report["argv"] == ["demo", "-i", "in.jsonl", "-o", "out.jsonl", "--report", "run.json"]
    assert report["software"]["plugins"] == {"demo": "0"}
    inputs = report["inputs"]
    assert inputs["paths"] == [{"path": "in.jsonl", "bytes": (tmp_path / "in.jsonl").stat().st_size}]
    assert (inputs["lines_read"], inputs["records_taken"], inputs["bad_lines"]) == (8, 8, 0)
    assert report["options"]["--output"] == "out.jsonl" and report["options"]["--batch-size"] is None
    assert report["options"]["--executor"] == "local" and "--report" not in report["options"]
    assert report["time"]["first_out_s"] is not None and report["time"]["first_out_s"] <= report["time"]["run_s"]


def test_bad_input_report_exit_65_with_the_counts_reached(tmp_path):
    lines = "\n".join(json.dumps(r) for r in RECORDS[:3]) + "\nnot json\n" + json.dumps(RECORDS[3]) + "\n"
    (tmp_path / "in.jsonl").write_text(lines)
    run = run_command(["demo", "-i", "in.jsonl", "-o", "out.jsonl", "--report", "run.json", "--batch-size", "2"],
                      workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 65
    report = load_report(tmp_path / "run.json")
    assert (report["outcome"], report["exit_status"]) == ("bad_input", 65)
    assert report["error"].startswith("in.jsonl:4:")
    assert line_counts(report) == run.summary
    assert report["inputs"]["records_taken"] == 3 and report["inputs"]["bad_lines"] == 1
    assert report["inputs"]["lines_read"] == 4


def test_skipped_bad_lines_are_taken_and_counted(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"id": 1, "text": "a"}\n[1]\n{"id": 2, "text": "b"}\n')
    run = run_command(["demo", "-i", "in.jsonl", "--on-error", "skip", "--report", "run.json"],
                      workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 0
    report = load_report(tmp_path / "run.json")
    assert line_counts(report) == run.summary and report["counts"]["rejected_by_reason"] == {"invalid_line": 1}
    assert (report["inputs"]["lines_read"], report["inputs"]["records_taken"], report["inputs"]["bad_lines"]) == (3, 2, 1)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_failed_write_report_exit_74(tmp_path):
    run = run_command(["demo", "-i", "in.jsonl", "-o", "/dev/full", "--report", "run.json"],
                      files={"in.jsonl": RECORDS}, workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 74
    report = load_report(tmp_path / "run.json")
    assert (report["outcome"], report["exit_status"]) == ("output_failed", 74)
    assert "/dev/full" in report["error"]
    assert line_counts(report) == run.summary


def test_interrupted_report_exit_130_after_sigint(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    command = [sys.executable, str(HERE / "demo_plugin.py"), "demo", "-i", "in.jsonl", "-o", "out.jsonl",
               "--batch-size", "1", "--sleep", "0.5", "--report", "run.json"]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent.parent)}
    child = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").read_text():
        assert time.monotonic() < deadline and child.poll() is None, "no record came out"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130
    report = load_report(tmp_path / "run.json")
    assert (report["outcome"], report["exit_status"]) == ("interrupted", 130)
    from llmkit.testing import parse_summary

    assert line_counts(report) == parse_summary(stderr.decode())
    assert report["counts"]["out"] == len((tmp_path / "out.jsonl").read_text().splitlines()) >= 1


def test_usage_error_inside_the_command_is_reported(tmp_path):
    run = run_command(["demo", "-i", "in.jsonl", "--resume", "--report", "run.json"],
                      files={"in.jsonl": RECORDS}, workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 2
    report = load_report(tmp_path / "run.json")
    assert (report["outcome"], report["exit_status"], report["counts"]) == ("usage", 2, None)
    assert "--resume" in report["error"]


@pytest.mark.parametrize("target", ["in.jsonl", "out.jsonl", "rej.jsonl"])
def test_report_path_is_never_an_input_or_an_output(tmp_path, target):
    run = run_command(["demo", "-i", "in.jsonl", "-o", "out.jsonl", "--rejects", "rej.jsonl", "--report", target],
                      files={"in.jsonl": RECORDS, "out.jsonl": [{"old": 1}]}, workdir=tmp_path,
                      plugins=demo_plugin.plugins())
    assert run.status == 2
    assert f"--report {target}" in run.stderr
    assert (tmp_path / "in.jsonl").read_text().count("\n") == len(RECORDS)
    assert json.loads((tmp_path / "out.jsonl").read_text()) == {"old": 1}  # not emptied


def test_llmkit_report_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMKIT_REPORT", str(tmp_path / "env.json"))
    run = run_command(["demo", "-i", "in.jsonl"], files={"in.jsonl": RECORDS}, workdir=tmp_path,
                      plugins=demo_plugin.plugins())
    assert run.status == 0
    assert line_counts(load_report(tmp_path / "env.json")) == run.summary


def test_no_report_without_the_option(tmp_path):
    run = run_command(["demo", "-i", "in.jsonl"], files={"in.jsonl": RECORDS}, workdir=tmp_path,
                      plugins=demo_plugin.plugins())
    assert run.status == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_generation_tokens_prompt_and_model_provenance(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 64}')
    (model / "tokenizer.json").write_text('{"model": {}}')
    (model / "weights.bin").write_bytes(b"\0" * 10)  # not an identity file: not hashed
    (tmp_path / "p.txt").write_text("Say: {text}")
    records = [{"id": 1, "text": "hello"}, {"id": 2, "text": "FAIL me"}, {"id": 3, "text": "bye"}, {"id": 4, "text": "AGAIN"}]
    run = run_command(["echo-gen", "-i", "in.jsonl", "-o", "out.jsonl", "--prompt", "p.txt", "--model", str(model),
                       "--report", "run.json"], files={"in.jsonl": records}, workdir=tmp_path,
                      plugins=report_plugin.plugins())
    assert run.status == 0, run.stderr
    report = load_report(tmp_path / "run.json")
    assert line_counts(report) == run.summary and run.summary["rejected_by_reason"] == {"too_long": 1}
    generated = sum(len(r["echo"].encode()) for r in run.outputs)  # the scripted backend: a token per byte
    gen = report["generation"]
    generated += len(b"garbled")  # the answer asked again still cost its tokens
    assert (gen["requests"], gen["completions"], gen["generated_tokens"]) == (5, 4, generated)
    assert gen["backend_errors"] == {"too_long": 1} and gen["retries"] == 1
    assert report["time"]["generated_tokens_per_s"] > 0
    digest = hashlib.sha256(b"Say: {text}").hexdigest()
    assert report["prompts"] == [{"path": "p.txt", "sha256": digest}]
    hashes = report["model"]["files_sha256"]
    assert hashes == {name: hashlib.sha256((model / name).read_bytes()).hexdigest() for name in ("config.json", "tokenizer.json")}
    assert report["model"]["local"] is True and report["model"]["name"] == str(model)
    assert report["software"]["plugins"] == {"echo-gen": "0.7"}


def test_secrets_are_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SERVER_KEY", "sk-env-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-abcdefgh")
    (tmp_path / "p.txt").write_text("{text}")
    run = run_command(["echo-gen", "-i", "in.jsonl", "--prompt", "p.txt", "--api-key", "sk-option-secret-1",
                       "--note=leaked sk-openai-abcdefgh here", "--api-key-env", "MY_SERVER_KEY",
                       "--base-url", "http://alice:hunter22@127.0.0.1:9/v1", "--report", "run.json"],
                      files={"in.jsonl": [{"id": 1, "text": "x"}]}, workdir=tmp_path, plugins=report_plugin.plugins())
    assert run.status == 0, run.stderr
    text = (tmp_path / "run.json").read_text()
    for secret in ("sk-option-secret-1", "sk-openai-abcdefgh", "hunter22", "alice"):
        assert secret not in text
    report = load_report(tmp_path / "run.json")
    assert report["options"]["--api-key"] == "[redacted]"
    assert report["options"]["--note"] == "leaked [redacted] here"
    assert report["options"]["--base-url"] == "http://[redacted]@127.0.0.1:9/v1"
    assert report["argv"][report["argv"].index("--api-key") + 1] == "[redacted]"
    assert report["options"]["--api-key-env"] == "MY_SERVER_KEY"  # the name of a variable is no secret
    assert report["options"]["--max-tokens"] is None  # "tokens" is not a "token"


def test_env_secret_named_by_api_key_env_is_redacted(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_CRED", "plainly-named-secret")  # a name that says nothing
    (tmp_path / "p.txt").write_text("{text}")
    run = run_command(["echo-gen", "-i", "in.jsonl", "--prompt", "p.txt", "--api-key-env", "SERVICE_CRED",
                       "--note", "plainly-named-secret", "--report", "run.json"],
                      files={"in.jsonl": [{"id": 1, "text": "x"}]}, workdir=tmp_path, plugins=report_plugin.plugins())
    assert run.status == 0, run.stderr
    assert "plainly-named-secret" not in (tmp_path / "run.json").read_text()


def test_report_is_written_whole(tmp_path):
    """Written through a temporary file renamed onto the path: an old report stays whole until then."""
    (tmp_path / "run.json").write_text("old")
    run = run_command(["demo", "-i", "in.jsonl", "--report", "run.json"], files={"in.jsonl": RECORDS},
                      workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 0
    assert load_report(tmp_path / "run.json")["counts"]["in"] == 8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".llmkit-")] == []


def test_opened_backend_engine_args_and_cached_revision(tmp_path, monkeypatch):
    from llmkit import BackendOptions, LazyBackend, report
    from llmkit.testing import ScriptedBackend

    refs = tmp_path / "hub" / "models--org--name" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text("0123abcd\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    recorder = report.start(["gen", "--model", "org/name"], {})
    report.begin_command("gen", {"--model": "org/name"}, str(tmp_path / "run.json"))
    try:
        options = BackendOptions(model="org/name", dtype="float32", tensor_parallel_size=2, max_tokens=9)
        LazyBackend(options, opener=lambda _: ScriptedBackend(["a"])).get()
    finally:
        assert report.finish(recorder, 0, None) == 0
    model = load_report(tmp_path / "run.json")["model"]
    assert (model["name"], model["local"], model["revision"], model["backend"]) == ("org/name", False, "0123abcd", "scripted")
    assert model["engine_args"]["dtype"] == "float32" and model["engine_args"]["tensor_parallel_size"] == 2
    assert "max_tokens" not in model["engine_args"]  # a sampling value, in the options
    assert report.current() is None  # the next run starts clean


def test_a_report_that_cannot_be_written_is_exit_74(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    run = run_command(["demo", "-i", "in.jsonl", "--report", str(folder / "missing" / "run.json")],
                      files={"in.jsonl": RECORDS}, workdir=tmp_path, plugins=demo_plugin.plugins())
    assert run.status == 74 and "--report" in run.stderr


def test_request_retries_of_the_openai_backend_by_kind(tmp_path, monkeypatch):
    from tests.backends.fault_server import FaultServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-key-123456")
    with FaultServer(script=["status:503", "429:0", "ok", "ok"]) as server:
        url = server.url.replace("http://", "http://alice:pw-hunter22@")  # a password in the URL
        run = run_command(["rewrite-math", "--backend", "openai", "--base-url", url, "--model", "m",
                           "--concurrency", "1", "--batch-size", "1", "-i", "in.jsonl", "--report", "run.json"],
                          files={"in.jsonl": [{"id": 1, "text": "1+1=2"}, {"id": 2, "text": "2+2=4"}]}, workdir=tmp_path)
    report = load_report(tmp_path / "run.json")
    assert report["generation"]["request_retries"] == {"HTTP 503": 1, "HTTP 429": 1}, run.stderr
    assert report["generation"]["requests"] == 2
    assert "sk-server-key-123456" not in (tmp_path / "run.json").read_text()
    assert "pw-hunter22" not in (tmp_path / "run.json").read_text()
    engine = report["model"]["engine_args"]  # how the server was asked; nothing of vllm's or hf's
    assert engine == {"base_url": server.url.replace("http://", "http://[redacted]@"), "api_key_env": "OPENAI_API_KEY",
                      "concurrency": 1, "request_timeout": 600.0, "max_retries": 5, "max_model_len": None}
    assert "engine_busy_s" not in report["generation"]  # a server's engine is not this run's to time


def test_hf_engine_args_are_what_the_model_was_loaded_with(tmp_path, tiny_llama):
    from llmkit import BackendOptions, LazyBackend, report

    recorder = report.start(["gen"], {})
    report.begin_command("gen", {"--model": str(tiny_llama)}, str(tmp_path / "run.json"))
    options = BackendOptions(model=str(tiny_llama), backend="hf", tensor_parallel_size=2, concurrency=3, max_model_len=64)
    backend = LazyBackend(options)
    try:
        backend.get()
    finally:
        backend.close()
        assert report.finish(recorder, 0, None) == 0
    model = load_report(tmp_path / "run.json")["model"]
    assert model["backend"] == "hf"
    # dtype auto is float32 on the CPU; the vllm and openai options given are not the hf backend's
    assert model["engine_args"] == {"dtype": "float32", "device": "cpu", "max_model_len": 64, "trust_remote_code": False}
