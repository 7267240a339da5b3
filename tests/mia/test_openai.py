"""samia through the openai backend against a stand-in OpenAI-compatible server (no likelihoods)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llmkit.testing import run_command

MEMBER = "the quick brown fox jumps over the lazy dog"  # prefix: "the quick brown fox"
OTHER = "a slow green turtle walks under the busy bridge"


class _Handler(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "stand-in", "owned_by": "someone"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.bodies.append(body)
        # the member's continuation is reproduced; anything else gets unrelated words
        text = " jumps over the lazy dog" if body["prompt"] == "the quick brown fox" else " nothing like it"
        choices = [{"index": i, "text": text, "finish_reason": "stop"} for i in range(body["n"])]
        self._send({"choices": choices})


@pytest.fixture
def server():
    _Handler.bodies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _run(argv):
    run = run_command(argv)
    return run.status, run.stdout.decode(), run.stderr


def test_samia_runs_on_sampled_text_only(server, tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"input": MEMBER}) + "\n" + json.dumps({"input": OTHER}) + "\n")
    code, out, err = _run(["mia", "score", "-i", str(data), "-q", "--backend", "openai", "--base-url", server,
                           "--methods", "samia,samia-zlib"])  # fmt: skip
    assert code == 0, err
    first, second = (json.loads(line)["mia"] for line in out.splitlines())
    assert first["samia"] == 1.0 and second["samia"] == 0.0
    import zlib

    assert first["samia-zlib"] == pytest.approx(len(zlib.compress(b"jumps over the lazy dog")))
    assert len(_Handler.bodies) == 2  # one request per text, n samples each
    body = _Handler.bodies[0]
    assert (body["n"], body["temperature"], body["top_k"], body["top_p"]) == (10, 1.0, 50, 1.0)
    # no local tokenizer: ceil(len(" jumps over the lazy dog") / 3) = 8 tokens -> 16 -> 16
    assert body["max_tokens"] == 16


@pytest.mark.parametrize("method", ["loss", "minkpp"])
def test_likelihood_methods_say_the_server_cannot(server, tmp_path, method):
    """Refused before the first request (the server is not vLLM), not at it."""
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"input": MEMBER}) + "\n")
    posts = len(_Handler.bodies)
    code, _out, err = _run(["mia", "score", "-i", str(data), "-q", "--backend", "openai", "--base-url", server,
                            "--methods", method])  # fmt: skip
    assert code == 2 and "cannot give token log-probabilities" in err and len(_Handler.bodies) == posts
