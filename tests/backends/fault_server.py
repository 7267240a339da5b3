"""A small OpenAI-compatible HTTP server on 127.0.0.1 that injects faults, for the openai backend's tests.

Each POST takes the next action of its script (then "ok" once the script is used up):

- ``ok``: a well-formed answer: ``n`` choices ``echo:<prompt>#<index>``, listed last index first
- ``status:CODE`` / ``status:CODE:MESSAGE``: that HTTP status with an OpenAI-style error body
- ``429:SECONDS``: HTTP 429 with ``Retry-After: SECONDS``
- ``hang``: read the request, then never answer (until the server stops)
- ``drop``: read the request, then close the connection without a byte of answer
- ``slow:SECONDS``: answer ok after that long (to observe how many requests are in flight)
- ``json:BODY``: HTTP 200 with BODY (any JSON text) as the answer, e.g. ``json:{"weird": 1}``
- ``raw:CODE:TEXT``: that HTTP status with TEXT as a plain-text body
- ``echo_auth:CODE``: that HTTP status with an OpenAI-style error that quotes the request's
  ``Authorization`` header (as some proxies do)
- ``trickle:SECONDS`` / ``trickle_body:SECONDS``: a well-formed answer sent one byte every SECONDS,
  status line and headers included / headers at once, then the body (a server that never stalls
  long enough for a read timeout)

``GET /v1/models`` always answers: with ``models_body`` when set, else a list of ``model_card``. The server records every request (path, body, headers, time).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    at: float


@dataclass
class FaultServer:
    script: list[str] = field(default_factory=list)
    model_card: dict[str, Any] = field(default_factory=lambda: {"id": "fault-model", "object": "model", "owned_by": "test"})
    models_body: Any = None
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    @property
    def posts(self) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST"]

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # releases hung handlers
        self._httpd.shutdown()
        self._httpd.server_close()

    def next_action(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else "ok"

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


class _Server(ThreadingHTTPServer):
    # a listen backlog for a client's whole pool (the default, 5, can leave connections waiting
    # a SYN retry on a busy machine, which the concurrency test would read as fewer in flight)
    request_queue_size = 128


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            server.record(Seen("GET", self.path, None, dict(self.headers), time.monotonic()))
            if self.path.rstrip("/") == "/v1/models":
                listing = server.models_body if server.models_body is not None else {"object": "list", "data": [server.model_card]}
                self._send(200, listing)
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            server.record(Seen("POST", self.path, body, dict(self.headers), time.monotonic()))
            action = server.next_action()
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._act(action, body)
            finally:
                with server._lock:
                    server.in_flight -= 1

        def _act(self, action: str, body: Any) -> None:
            kind, _, arg = action.partition(":")
            if kind == "hang":
                server._stop.wait()
                self.close_connection = True
            elif kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif kind == "429":
                self._send(429, {"error": {"message": "slow down"}}, {"Retry-After": arg or "1"})
            elif kind == "json":
                self._send(200, json.loads(arg))
            elif kind == "raw":
                code, _, text = arg.partition(":")
                self._send_bytes(int(code), text.encode(), {"Content-Type": "text/plain"})
            elif kind == "echo_auth":
                told = f"invalid credentials: {self.headers.get('Authorization')}"
                self._send(int(arg), {"error": {"message": told}})
            elif kind in ("trickle", "trickle_body"):
                self._trickle(float(arg), _answer(self.path, body), headers_too=kind == "trickle")
            elif kind == "status":
                code, _, message = arg.partition(":")
                self._send(int(code), {"error": {"message": message or f"injected {code}"}})
            else:
                if kind == "slow":
                    time.sleep(float(arg))
                self._send(200, _answer(self.path, body))

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

        def _send_bytes(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _trickle(self, delay: float, payload: Any, headers_too: bool) -> None:
            data = json.dumps(payload).encode()
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
            if not headers_too:
                self.wfile.write(head)
                self.wfile.flush()
                head = b""
            self.close_connection = True
            for index in range(len(head + data)):
                if server._stop.wait(delay):
                    return
                try:
                    self.wfile.write((head + data)[index : index + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return

    return Handler


def _answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    n = int(body.get("n") or 1)
    if path.endswith("/chat/completions"):
        last = body["messages"][-1]["content"]
        choices = [
            {"index": i, "message": {"role": "assistant", "content": f"echo:{last}#{i}"}, "finish_reason": "stop"}
            for i in reversed(range(n))
        ]
        return {"object": "chat.completion", "model": body.get("model"), "choices": choices}
    choices = [{"index": i, "text": f"echo:{body['prompt']}#{i}", "finish_reason": "length"} for i in reversed(range(n))]
    return {"object": "text_completion", "model": body.get("model"), "choices": choices}
