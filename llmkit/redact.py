"""Secrets kept out of what llmkit writes about a run (its report): API keys and passwords.

The openai backend already replaces its API key, wherever a server echoes it, by ``[redacted]``
(:mod:`llmkit.backends._http`); a report does the same for everything it copies from the command
line, the options and the error message:

- the value of an option whose name says it is a secret (``--api-key``, ``--hf-token``, ...);
- the value of each environment variable that holds one (its name ends in ``KEY``, ``TOKEN``,
  ``SECRET`` or ``PASSWORD``, or it is the variable ``--api-key-env`` names), wherever it appears;
- the user and password of a URL (``https://user:pass@host/v1``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"

#: an option's name, dashes as underscores: ``api_key``, ``hf_token`` (not ``max_tokens``)
_SECRET_NAME = re.compile(r"(?:^|_)(?:key|token|secret|password|passwd|credentials?|auth)$", re.IGNORECASE)
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
#: shorter values are too likely to be found in ordinary text ("1", "abc") to be replaced anywhere
_SHORTEST_SECRET = 6


def is_secret_name(name: str) -> bool:
    """Whether an option (``--api-key``) or field (``api_key``) holds a secret by its name. A name
    that says where a secret is (``--api-key-env``, ``--token-file``) holds none."""
    bare = name.lstrip("-").replace("-", "_")
    return bool(_SECRET_NAME.search(bare))


def secrets_in_environment(environ: Mapping[str, str] | None = None, named: Iterable[str] = ()) -> set[str]:
    """The values of the environment variables that hold secrets: by their names, and those
    ``named`` (the variables options such as ``--api-key-env`` point to)."""
    environ = os.environ if environ is None else environ
    names = {name for name in environ if _SECRET_ENV.search(name.upper())} | set(named)
    return {environ[name] for name in names if len(environ.get(name, "")) >= _SHORTEST_SECRET}


class Redactor:
    """Replaces known secret values, and URL passwords, in strings and nested JSON values."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # longest first: a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)

    def value(self, value: Any) -> Any:
        """``value`` (a JSON value) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    def argv(self, argv: list[str]) -> list[str]:
        """The command line with the value of each secret option (``--api-key X``,
        ``--api-key=X``) replaced, then every string redacted."""
        shown: list[str] = []
        hide_next = False
        for arg in argv:
            if hide_next:
                shown.append(REDACTED)
                hide_next = False
                continue
            name, equals, _ = arg.partition("=")
            if arg.startswith("--") and is_secret_name(name):
                if equals:
                    arg = f"{name}={REDACTED}"
                else:
                    hide_next = True
            shown.append(self.text(arg))
        return shown
