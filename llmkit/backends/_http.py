"""A small JSON-over-HTTP client with timeouts and retries, for the ``openai`` backend.

Retried: connection errors (refused, reset, dropped mid-answer), timeouts, HTTP 408, 429 and 5xx,
with exponential backoff and jitter, or after the server's ``Retry-After`` when it sends one. Not
retried: other 4xx answers, which come back to the caller as :class:`ClientError`. After the last
retry: :class:`BackendUnavailable` naming the URL and the last error. The API key travels only in
the ``Authorization`` header: no message, log line or exception here ever contains it, and a
server's text quoted in one (an error body that echoes the header, as some proxies do) has the
key replaced by ``[redacted]``. ``--request-timeout`` bounds a whole request, answer included
(:mod:`llmkit.backends._deadline`), not each read.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from llmkit.backends._deadline import bound_whole_requests, deadline
from llmkit.errors import BackendUnavailable, UsageError
from llmkit.report import note_request_retry

log = logging.getLogger("llmkit.backends.openai")

_RETRY_STATUS = {408, 429}
#: the longest wait a server's Retry-After may impose on us, in seconds
_RETRY_AFTER_CAP = 60.0
REDACTED = "[redacted]"


@dataclass
class ClientError(Exception):
    """A 4xx answer that retrying cannot fix (bad request, context too long, unknown model, auth)."""

    status: int
    message: str
    url: str


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_base: float = 0.5  # seconds before the first retry; doubles each time
    backoff_max: float = 30.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, max(self.backoff_max, _RETRY_AFTER_CAP))
        ceiling = min(self.backoff_max, self.backoff_base * 2**retry)
        return random.uniform(ceiling / 2, ceiling)  # jitter: clients that failed together retry apart


def display_url(url: str) -> str:
    """The URL without any user:password part, safe to print (``url`` has passed :func:`checked_base_url`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def checked_base_url(url: str) -> str:
    """``url`` as safe to print, when a server can be reached at it; else UsageError (exit 2)
    saying what is wrong. Checked once, up front: urllib and httpx would raise ValueError (a port
    out of range, a broken IPv6 address) wherever the URL is next parsed, or fail only at the
    first request."""
    shown = _without_userinfo(url)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--base-url must start with http:// or https://, not {shown!r}")
    try:
        parts = urlsplit(url)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:  # a broken IPv6 address, a character httpx refuses
        raise UsageError(f"--base-url {shown!r} is not a URL: {exc}") from exc
    try:
        port = parts.port  # parsed only when asked for
    except ValueError as exc:  # out of range, not a number
        raise UsageError(f"--base-url {shown!r}: the port must be a number from 1 to 65535") from exc
    if port == 0:
        raise UsageError(f"--base-url {shown!r}: the port must be a number from 1 to 65535")
    if not parts.hostname:
        raise UsageError(f"--base-url {shown!r} names no host, e.g. http://127.0.0.1:8000/v1")
    return display_url(url)


def _without_userinfo(url: str) -> str:
    """``url`` without what comes before an ``@`` in its authority: for messages about a URL that
    may not parse, so a password in it is never shown."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    authority, slash, path = rest.partition("/")
    return f"{scheme}{separator}{authority.rpartition('@')[2]}{slash}{path}"


class JSONClient:
    """Thread-safe (one pooled ``httpx.Client``); every call retries per the policy."""

    def __init__(
        self, base_url: str, api_key: str | None, timeout: float, connections: int, policy: RetryPolicy
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.policy = policy
        self._secret = api_key
        self._closed = threading.Event()
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        bound_whole_requests(self._client)

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, body)

    def shown(self, path: str) -> str:
        """The URL of ``path`` on the server, safe to print."""
        return display_url(f"{self.base_url}{path}")

    def redact(self, text: str) -> str:
        """``text`` (a server's words) with the API key, wherever it appears, replaced: a server
        or proxy that echoes the ``Authorization`` header must not put the key in a message, a log
        line or a reject's detail."""
        return text.replace(self._secret, REDACTED) if self._secret else text

    def quote(self, answer: Any) -> str:
        """The start of a JSON answer, for a message, without the key."""
        return self.redact(json.dumps(answer)[:200])

    def close(self) -> None:
        """Stop retrying and drop the connections; requests in flight end with an error."""
        self._closed.set()
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        url = f"{self.base_url}{path}"
        shown = self.shown(path)
        last_error, tries = "", 0
        for attempt in range(self.policy.max_retries + 1):
            if self._closed.is_set():  # closed meanwhile (an interrupted run): no more tries
                break
            retry_after: float | None = None
            tries += 1
            try:
                with deadline(self.timeout):
                    response = self._client.request(method, url, json=body)
            except httpx.TimeoutException:
                last_error = f"no complete answer within {self.timeout:g} s (timeout)"
            except httpx.TransportError as exc:  # refused, reset, closed without an answer
                last_error = self.redact(f"{type(exc).__name__}: {exc}")
            except RuntimeError as exc:  # httpx: the client was closed by another thread
                last_error = str(exc)
            else:
                status = response.status_code
                if status < 400:
                    return self._json(response, shown)
                if status not in _RETRY_STATUS and status < 500:
                    raise ClientError(status, self.redact(_error_message(response)), shown)
                last_error = f"HTTP {status}: {self.redact(_error_message(response))}"
                retry_after = _retry_after(response)
            if attempt == self.policy.max_retries:
                break
            note_request_retry(last_error)  # for the run's report
            wait = self.policy.delay(attempt, retry_after)
            log.warning("%s %s failed (%s); retry %d/%d in %.2f s", method, shown, last_error, attempt + 1,
                        self.policy.max_retries, wait)
            self._closed.wait(wait)  # a sleep that close() cuts short
        raise BackendUnavailable(
            f"{method} {shown} failed after {tries} attempt(s); last error: {last_error or 'the client was closed'}"
        )

    def _json(self, response: httpx.Response, shown: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            text = self.redact(repr(response.text[:200]))
            raise BackendUnavailable(f"{shown} answered with something that is not JSON: {text}") from exc


def _error_message(response: httpx.Response) -> str:
    """The server's own words: OpenAI-style ``{"error": {"message": ...}}``, else the start of the body."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(payload, dict) and payload.get("message"):
        return str(payload["message"])
    return str(payload)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
