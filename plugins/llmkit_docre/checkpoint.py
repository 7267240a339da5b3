"""A trained docre model on disk, and loading an encoder.

``MODEL_DIR/`` holds the best checkpoint: ``docre.json`` (inventory and architecture settings,
dev scores), ``encoder/`` (the Hugging Face encoder and tokenizer, ``save_pretrained``) and
``head.pt`` (the added layers). ``MODEL_DIR/last/`` holds the latest epoch's checkpoint with
``training.pt`` (optimizer, scheduler, epoch, best dev F1, random states) for ``--resume``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from llmkit import BackendUnavailable, InputError, UsageError
from llmkit_docre.data import Relations
from llmkit_docre.options import Architecture, architecture_problem

SETTINGS_FILE = "docre.json"
HEAD_FILE = "head.pt"


@dataclass
class ModelSettings(Architecture):
    """``docre.json``: the architecture the model was trained with, its inventory and provenance."""

    relations: dict[str, int] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    encoder: str = ""
    dev: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0

    def inventory(self) -> Relations:
        names = sorted(self.relations, key=self.relations.__getitem__)
        return Relations(tuple(names), dict(self.descriptions))


#: the JSON type of each docre.json key but the architecture's (checked by architecture_problem)
_KINDS: dict[str, type | tuple[type, ...]] = {"relations": dict, "descriptions": dict, "encoder": str, "dev": dict, "epoch": int}


def read_settings(directory: str | Path) -> ModelSettings:
    """The ``docre.json`` of a model directory; a damaged one is bad input naming the file."""
    path = Path(directory) / SETTINGS_FILE
    if not path.is_file():
        raise UsageError(f"--model {directory}: not a docre model directory (no {SETTINGS_FILE}; train one with `llmkit docre train`)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON
        raise InputError(f"{path}: not a readable docre settings file ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: holds {type(raw).__name__}, not an object")
    known = {f.name for f in fields(ModelSettings)}
    if unknown := sorted(raw.keys() - known):
        raise InputError(f"{path}: unknown keys {unknown} (written by another program or version?)")
    for key, kind in _KINDS.items():
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], kind)):
            raise InputError(f"{path}: {key!r} must be {getattr(kind, '__name__', kind)}, got {raw[key]!r}")
    relations = raw.get("relations", {})
    if sorted(v for v in relations.values() if isinstance(v, int) and not isinstance(v, bool)) != list(range(len(relations))):
        raise InputError(f"{path}: 'relations' must number the relations 0 to {len(relations) - 1}, each once")
    if problem := architecture_problem({**asdict(Architecture()), **raw}, flag=repr):
        raise InputError(f"{path}: {problem}")
    return ModelSettings(**raw)


def encoder_location(name: str) -> str:
    """What ``docre.json`` stores for an encoder: a local folder as an absolute path (so that a
    model read from another working directory still finds it), a hub name as given."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def check_encoder(name: str, layers: int) -> None:
    """Refuse ``--layers`` deeper than the encoder, from its config alone (before any weight loads)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load the encoder {name!r}: {exc}") from exc
    depth = getattr(config, "num_hidden_layers", None)
    if isinstance(depth, int) and layers > depth:
        raise UsageError(f"--layers {layers}: the encoder {name!r} has only {depth} layers")


def check_output(directory: str | Path, resume: bool) -> Path:
    """The model directory ``-o`` names, refused before anything loads when it cannot be one."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise UsageError(f"-o {directory}: is a file; docre writes a model directory there")
    if not resume and (path / SETTINGS_FILE).exists():
        raise UsageError(f"{path} already holds a model; pass --resume to continue it, or choose another -o")
    return path


def load_encoder(name: str) -> tuple[Any, Any]:
    """A Hugging Face encoder (with eager attention, so that attentions are returned) and its fast tokenizer."""
    from safetensors import SafetensorError
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name, use_fast=True)
        encoder = AutoModel.from_pretrained(name, attn_implementation="eager")
    except (OSError, ValueError, SafetensorError) as exc:  # missing, unreadable, truncated weights
        raise BackendUnavailable(f"cannot load the encoder {name!r}: {exc}") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{name}: docre needs a fast tokenizer (tokenizer.json)")
    return encoder, tokenizer


def save(directory: Path, model: Any, tokenizer: Any, settings: ModelSettings, training: dict[str, Any] | None = None) -> None:
    """Write a checkpoint; files are written beside and renamed, so a kill leaves the old one whole."""
    directory.mkdir(parents=True, exist_ok=True)
    model.encoder.save_pretrained(directory / "encoder")
    tokenizer.save_pretrained(directory / "encoder")
    head = {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    _atomic_torch_save(head, directory / HEAD_FILE)
    if training is not None:
        _atomic_torch_save(training, directory / "training.pt")
    tmp = directory / (SETTINGS_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(settings), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(directory / SETTINGS_FILE)


def _atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_model(directory: str | Path, device: Any = None) -> tuple[Any, Any, ModelSettings]:
    """(model, tokenizer, settings) of a saved model directory. Every file of it is checked: a
    damaged one stops the run as bad input (exit 65) naming it."""
    from llmkit_docre.model import DocREModel

    location = Path(directory)
    settings = read_settings(location)
    try:
        encoder, tokenizer = load_encoder(str(location / "encoder"))
    except BackendUnavailable as exc:  # the folder's own encoder, not one to download
        raise InputError(f"{location / 'encoder'}: the model's encoder cannot be loaded ({exc})") from exc
    model = DocREModel(
        encoder, tokenizer, len(settings.relations), settings.emb_size, settings.block_size, settings.layers, settings.window
    )
    head = _read_head(location / HEAD_FILE)
    # strict=False because the encoder's weights come from encoder/, not head.pt; a head layer
    # missing from head.pt would otherwise stay silently random
    try:
        missing, unexpected = model.load_state_dict(head, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise InputError(f"{location / HEAD_FILE}: does not match {SETTINGS_FILE} ({exc})") from exc
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise InputError(f"{location / HEAD_FILE}: does not match {SETTINGS_FILE} (missing {missing}, unexpected {unexpected})")
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer, settings


def _read_head(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise InputError(f"{path}: missing; the model directory is incomplete")
    try:
        head = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:  # truncated or not torch's
        raise InputError(f"{path}: not a readable head checkpoint ({exc})") from exc
    if not isinstance(head, dict) or not all(isinstance(v, torch.Tensor) for v in head.values()):
        raise InputError(f"{path}: not a dictionary of tensors")
    return head
