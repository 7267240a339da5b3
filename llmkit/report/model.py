"""Which model a run used, precisely enough for a dataset card: the name or path given, and what
pins it down: for a local folder a SHA-256 of its config and tokenizer files (the weights are
too big to hash at the end of every run; a different config or tokenizer is what changes a run
most visibly), for a hub name the revision the local Hugging Face cache resolved it to."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

#: files that define a model's shape and its tokenizer (those a folder holds are hashed)
IDENTITY_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
)


def describe_model(given: Any, backend: dict[str, Any] | None) -> dict[str, Any] | None:
    """The report's ``model``: None when the run named no model and opened no backend."""
    if not isinstance(given, str) or not given:
        given = None
    if given is None and backend is None:
        return None
    model: dict[str, Any] = {"name": given, "local": False, "files_sha256": None, "sha256": None, "revision": None}
    if given is not None and os.path.isdir(os.path.expanduser(given)):
        files = folder_hashes(Path(os.path.expanduser(given)))
        model.update(local=True, files_sha256=files, sha256=combined_hash(files) if files else None)
    elif given is not None:
        model["revision"] = cached_revision(given)
    model["backend"] = backend["name"] if backend else None
    model["engine_args"] = backend["engine_args"] if backend else None
    return model


def folder_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of each identity file the folder holds."""
    hashes = {}
    for name in IDENTITY_FILES:
        path = folder / name
        if path.is_file():
            hashes[name] = file_sha256(path)
    return hashes


def combined_hash(files: dict[str, str]) -> str:
    """One SHA-256 over the files' names and hashes: equal for two folders with the same files."""
    text = "".join(f"{name}\0{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_revision(name: str) -> str | None:
    """The commit the Hugging Face cache resolved ``name``'s main branch to (read from the cache
    folder, without importing huggingface_hub); None when the model is not cached there."""
    if name.count("/") != 1:
        return None
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub"
    )
    ref = Path(cache) / ("models--" + name.replace("/", "--")) / "refs" / "main"
    try:
        return ref.read_text().strip() or None
    except OSError:
        return None
