"""Checkpoints: any nested state (dicts, lists, tuples, numbers, strings, tensors) as a safetensors file
holding the tensors plus a JSON file holding everything else. Never pickle.

A checkpoint named ``last`` in folder ``checkpoints/`` is two files:

* ``last-<step>.safetensors``: every tensor of the state under a path-like key (``model/embed.weight``);
* ``last.json``: the state tree with each tensor replaced by ``{"__tensor__": key}``, the tensor file's
  name, byte size and SHA-256.

Saving writes the tensor file under a new name first, then atomically replaces ``last.json`` (the commit
point), then removes the tensor file the previous ``last.json`` named. A crash at any moment leaves a
``last.json`` naming a complete tensor file; loading checks size and hash and says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import atomic

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "checkpoint_exists", "encode", "decode"]

FORMAT = "lstmkit-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt or of another format.

    Example::

        >>> import tempfile
        >>> from lstmkit.train import CheckpointError, load_checkpoint
        >>> try:
        ...     load_checkpoint(tempfile.mkdtemp(), "last")
        ... except CheckpointError as e:
        ...     print(str(e).split(":")[0])
        no checkpoint 'last'
    """


# ---------------------------------------------------------------------------------- tree <-> JSON + tensors
def encode(obj: Any, tensors: dict[str, torch.Tensor], path: str = "") -> Any:
    """``obj`` as JSON-able data; tensors are moved into ``tensors`` under their path and referenced."""
    if isinstance(obj, torch.Tensor):
        key = path or "tensor"
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode(v, tensors, f"{path}/{k}" if path else k) for k, v in obj.items()}
        return {"__items__": [[encode(k, tensors, f"{path}/key{i}"), encode(v, tensors, f"{path}/{i}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [encode(v, tensors, f"{path}/{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint state at {path or '<root>'!r} must be a tensor, dict, list, tuple, number, "
                    f"string or None, got {type(obj).__name__}")


def decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(decode(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {decode(k, tensors): decode(v, tensors) for k, v in obj["__items__"]}
        return {k: decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v, tensors) for v in obj]
    return obj


# ---------------------------------------------------------------------------------- files
def _sha256(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_exists(folder: str | pathlib.Path, name: str) -> bool:
    return (pathlib.Path(folder) / f"{name}.json").is_file()


def checkpoint_step(folder: str | pathlib.Path, name: str) -> int | None:
    """The step checkpoint ``name`` was saved at (from its JSON, not verified), or None if there is none."""
    try:
        step = json.loads((pathlib.Path(folder) / f"{name}.json").read_text(encoding="utf-8")).get("step")
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return None
    return step if isinstance(step, int) else None


def save_checkpoint(folder: str | pathlib.Path, name: str, state: dict, step: int) -> pathlib.Path:
    """Write ``state`` as checkpoint ``name`` in ``folder`` atomically; return the JSON path.

    Example::

        >>> import tempfile, torch
        >>> from lstmkit.train.checkpoint import save_checkpoint, load_checkpoint
        >>> d = tempfile.mkdtemp()
        >>> _ = save_checkpoint(d, "last", {"w": torch.ones(2), "betas": (0.9, 0.99), "pos": 7}, step=3)
        >>> load_checkpoint(d, "last")["state"]
        {'w': tensor([1., 1.]), 'betas': (0.9, 0.99), 'pos': 7}
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"checkpoint name must be letters, digits or '_', got {name!r}")
    tensors: dict[str, torch.Tensor] = {}
    tree = encode(state, tensors)
    previous = _referenced_file(folder, name)
    tensor_name = f"{name}-{step:09d}.safetensors"
    if previous == tensor_name:                                   # saved twice at one step: new name
        tensor_name = f"{name}-{step:09d}b.safetensors"
    with atomic.atomic_path(folder / tensor_name) as tmp:
        save_file(tensors, str(tmp))
    tensor_path = folder / tensor_name
    meta = {"format": FORMAT, "version": VERSION, "name": name, "step": step, "tensors_file": tensor_name,
            "tensors_bytes": tensor_path.stat().st_size, "tensors_sha256": _sha256(tensor_path), "state": tree}
    atomic.write_json(folder / f"{name}.json", meta)
    for old in folder.glob(f"{name}-*.safetensors"):             # files no JSON names any more
        if old.name != tensor_name:
            old.unlink(missing_ok=True)
    for stray in folder.glob(f".{name}*.tmp"):                    # temp files of an interrupted save
        stray.unlink(missing_ok=True)
    return folder / f"{name}.json"


def _referenced_file(folder: pathlib.Path, name: str) -> str | None:
    try:
        return json.loads((folder / f"{name}.json").read_text()).get("tensors_file")
    except (OSError, ValueError, AttributeError):
        return None


def load_checkpoint(folder: str | pathlib.Path, name: str) -> dict:
    """Read checkpoint ``name``: ``{"step": int, "state": the saved tree}``. Raises :class:`CheckpointError`
    naming the file and what is wrong (missing, not JSON, wrong format, truncated, hash mismatch)."""
    folder = pathlib.Path(folder)
    jpath = folder / f"{name}.json"
    if not jpath.is_file():
        raise CheckpointError(f"no checkpoint {name!r}: expected {jpath}, which does not exist")
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {jpath} is corrupt: expected JSON, got a parse error ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{jpath} is not an lstmkit checkpoint: expected format {FORMAT!r}, got {got!r}")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{jpath}: expected checkpoint version {VERSION}, got {meta.get('version')!r}")
    tpath = folder / str(meta.get("tensors_file"))
    if not tpath.is_file():
        raise CheckpointError(f"checkpoint {jpath} names tensor file {tpath.name}, which does not exist")
    size = tpath.stat().st_size
    if size != meta.get("tensors_bytes"):
        raise CheckpointError(f"checkpoint tensor file {tpath} is truncated or corrupt: expected "
                              f"{meta.get('tensors_bytes')} bytes, got {size}")
    digest = _sha256(tpath)
    if digest != meta.get("tensors_sha256"):
        raise CheckpointError(f"checkpoint tensor file {tpath} is corrupt: expected sha256 "
                              f"{meta.get('tensors_sha256')}, got {digest}")
    try:
        tensors = load_file(str(tpath))
        state = decode(meta["state"], tensors)
    except (SafetensorError, KeyError, OSError) as e:
        raise CheckpointError(f"checkpoint {jpath} cannot be read: {e}") from None
    return {"step": meta["step"], "state": state}
