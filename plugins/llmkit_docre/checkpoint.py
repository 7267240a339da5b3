"""A trained docre model on disk, and loading an encoder.

``MODEL_DIR/`` holds the best checkpoint: ``docre.json`` (inventory and architecture settings,
dev scores), ``encoder/`` (the Hugging Face encoder and tokenizer, ``save_pretrained``) and
``head.pt`` (the added layers). ``MODEL_DIR/last/`` holds the latest epoch's checkpoint with
``training.pt`` (optimizer, scheduler, epoch, best dev F1, random states) for ``--resume``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmkit import BackendUnavailable, UsageError
from llmkit_docre.data import Relations


@dataclass
class ModelSettings:
    relations: dict[str, int]
    descriptions: dict[str, str] = field(default_factory=dict)
    emb_size: int = 768
    block_size: int = 64
    layers: int = 3
    window: int = 512
    max_length: int = 1024
    num_labels: int = 4
    evi_threshold: float = 0.2
    encoder: str = ""
    dev: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0

    def inventory(self) -> Relations:
        names = sorted(self.relations, key=self.relations.__getitem__)
        return Relations(tuple(names), dict(self.descriptions))


def load_encoder(name: str) -> tuple[Any, Any]:
    """A Hugging Face encoder (with eager attention, so that attentions are returned) and its fast tokenizer."""
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name, use_fast=True)
        encoder = AutoModel.from_pretrained(name, attn_implementation="eager")
    except (OSError, ValueError) as exc:
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
    _atomic_torch_save(head, directory / "head.pt")
    if training is not None:
        _atomic_torch_save(training, directory / "training.pt")
    tmp = directory / "docre.json.tmp"
    tmp.write_text(json.dumps(asdict(settings), ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(directory / "docre.json")


def _atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_model(directory: str | Path, device: Any = None) -> tuple[Any, Any, ModelSettings]:
    """(model, tokenizer, settings) of a saved model directory."""
    import torch

    from llmkit_docre.model import DocREModel

    location = Path(directory)
    if not (location / "docre.json").is_file():
        raise UsageError(f"--model {directory}: not a docre model directory (no docre.json; train one with `llmkit docre train`)")
    settings = ModelSettings(**json.loads((location / "docre.json").read_text(encoding="utf-8")))
    encoder, tokenizer = load_encoder(str(location / "encoder"))
    model = DocREModel(
        encoder, tokenizer, len(settings.relations), settings.emb_size, settings.block_size, settings.layers, settings.window
    )
    head = torch.load(location / "head.pt", map_location="cpu", weights_only=True)
    # strict=False because the encoder's weights come from encoder/, not head.pt; a head layer
    # missing from head.pt would otherwise stay silently random
    missing, unexpected = model.load_state_dict(head, strict=False)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise UsageError(f"--model {directory}: head.pt does not match docre.json (missing {missing}, unexpected {unexpected})")
    if device is not None:
        model.to(device)
    model.eval()
    return model, tokenizer, settings
