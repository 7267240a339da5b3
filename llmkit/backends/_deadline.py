"""A deadline for a whole HTTP request (connect, send, every read of the answer), for httpx.

httpx's timeouts bound each network operation: a server that trickles its answer a byte at a
time never lets one read wait long enough to time out, and holds a request for as long as it
likes. Here every operation of the connection is given at most the time left before the
deadline of the request that runs it (per thread: the sync client runs a request in the thread
that called it), and the next operation after the deadline fails with httpx's own timeout
errors, so callers see a timeout as they would from httpx.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

log = logging.getLogger("llmkit.backends.openai")

_current = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Requests made in this thread inside the block end by ``seconds`` from now."""
    _current.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.at = None


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` capped at the time left before the deadline; ``error`` once none is left."""
    end = getattr(_current, "at", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the whole request took longer than its timeout")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> _Stream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:  # fmt: skip
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_whole_requests(client: httpx.Client) -> None:
    """Make ``client``'s connections honour :func:`deadline`, proxies (from the environment)
    included.

    httpx builds its httpcore pools without a way to pass a network backend, so each pool's is
    wrapped after the fact (``_transport``, ``_mounts``, ``_pool._network_backend``: stable across
    httpx 0.2x and httpcore 1.x). Should a release move them, requests keep httpx's per-operation
    timeouts and a warning says so; the openai backend's tests fail loudly then.
    """
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    pools = [getattr(t, "_pool", None) for t in transports if t is not None]
    inners = [getattr(pool, "_network_backend", None) for pool in pools]
    if not pools or not all(isinstance(inner, httpcore.NetworkBackend) for inner in inners):
        log.warning("this httpx does not let llmkit bound whole requests: --request-timeout bounds each read only")
        return
    for pool, inner in zip(pools, inners):
        if isinstance(inner, httpcore.NetworkBackend) and not isinstance(inner, _Backend):
            pool._network_backend = _Backend(inner)  # type: ignore[union-attr]
