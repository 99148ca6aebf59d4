"""Keras weight files read and written with h5py alone (no TensorFlow, no Keras).

Three layouts:

* Keras 3 ``.weights.h5`` (``model.save_weights``): one group per object, named after its class in snake
  case (``lstm``, ``lstm_1``, ``bidirectional``), variables as datasets ``0, 1, 2`` of a ``vars`` group:
  ``layers/lstm/cell/vars/0`` (kernel), ``/1`` (recurrent_kernel), ``/2`` (bias); a Bidirectional's under
  ``layers/bidirectional/forward_layer/cell/vars`` and ``.../backward_layer/cell/vars``. (Keras 2.13's
  ``_layer_checkpoint_dependencies`` in place of ``layers`` reads the same.)
* Keras 3 ``.keras``: a zip with ``config.json`` (the model's layers: class names, names, configs) and
  ``model.weights.h5`` in the layout above. The config gives each layer its name and activations.
* Legacy Keras 2 ``.h5`` (``model.save`` / ``save_weights`` in h5): ``model_weights/<layer>`` (or the
  root for weights only) with attribute ``weight_names``, datasets ``<layer>/lstm_cell/kernel:0`` ...;
  ``model_config`` (JSON) at the root of a whole-model file.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .keras import FAMILIES, KerasLayer, _bidirectional_configs

_GATES_TO_CLASS = {n: cls for n, cls in FAMILIES.values()}


def _h5py():
    try:
        import h5py
    except ImportError as e:                                  # pragma: no cover - h5py is in the test extra
        raise ImportError("reading or writing Keras weight files needs h5py: pip install 'lstmkit[keras]'") from e
    return h5py


def snake_case(name: str) -> str:
    """Keras's ``to_snake_case``, which names a layer's group in a Keras 3 weights file.

    Example::

        >>> snake_case("SimpleRNN"), snake_case("LSTM"), snake_case("Bidirectional")
        ('simple_rnn', 'lstm', 'bidirectional')
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass
class Found:
    """A recurrent layer found in a file: its names (the stored one first) and its directions."""

    names: list[str]
    directions: list[KerasLayer]
    path: str = ""
    aliases: list[str] = field(default_factory=list)

    def describe(self) -> str:
        k = self.directions[0]
        n = k.arrays[1].shape[1] // k.arrays[1].shape[0]
        cls = _GATES_TO_CLASS.get(n, f"{n}-gate")
        if len(self.directions) == 2:
            cls = f"Bidirectional({cls})"
        where = f" at {self.path}" if self.path and self.path != self.names[-1] else ""
        return f"'{self.names[-1]}' ({cls} {k.arrays[0].shape[0]}->{k.arrays[1].shape[0]}{where})"

    def gates(self) -> int:
        rk = self.directions[0].arrays[1]
        return rk.shape[1] // rk.shape[0]


# ------------------------------------------------------------------------------------ recognising weights
def _is_recurrent(arrays: list[np.ndarray]) -> bool:
    """kernel (I, nH), recurrent_kernel (H, nH) with n in 1, 3, 4, and an optional bias."""
    if len(arrays) not in (2, 3):
        return False
    k, rk = arrays[0], arrays[1]
    if k.ndim != 2 or rk.ndim != 2 or rk.shape[0] == 0 or k.shape[1] != rk.shape[1]:
        return False
    if rk.shape[1] % rk.shape[0] or rk.shape[1] // rk.shape[0] not in _GATES_TO_CLASS:
        return False
    return len(arrays) == 2 or arrays[2].shape in ((rk.shape[1],), (2, rk.shape[1]))


def _vars(group) -> Optional[list[np.ndarray]]:
    """The datasets 0, 1, ... of ``group['vars']`` in order, or None."""
    h5py = _h5py()
    v = group.get("vars") if isinstance(group, h5py.Group) else None
    if not isinstance(v, h5py.Group) or not len(v):
        return None
    keys = sorted(v.keys(), key=lambda s: int(s) if s.isdigit() else 1 << 30)
    return [np.asarray(v[key]) for key in keys]


def _cell_arrays(group) -> Optional[list[np.ndarray]]:
    """A Keras 3 RNN layer group's cell weights (``<group>/cell/vars``), or None."""
    h5py = _h5py()
    cell = group.get("cell")
    if not isinstance(cell, h5py.Group):
        return None
    arrays = _vars(cell)
    return arrays if arrays is not None and _is_recurrent(arrays) else None


# ------------------------------------------------------------------------------------ Keras 3
def _config_paths(model_cfg: dict, prefix: str = "layers") -> dict[str, tuple[str, dict]]:
    """{h5 path: (class name, layer config)} for the layers of a Keras 3 model config, nested models too;
    the path names follow saving_lib: snake-case class name, ``_1``, ``_2`` ... for repeats."""
    out: dict[str, tuple[str, dict]] = {}
    used: dict[str, int] = {}
    layers = (model_cfg.get("config") or {}).get("layers") or []
    for entry in layers:
        cls = entry.get("class_name", "")
        name = snake_case(cls)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        path = f"{prefix}/{name}"
        out[path] = (cls, entry.get("config") or {})
        if isinstance((entry.get("config") or {}).get("layers"), list):
            out.update(_config_paths(entry, f"{path}/layers"))
    return out


def _walk_keras3(h5, configs: dict[str, tuple[str, dict]]) -> list[Found]:
    h5py = _h5py()
    found: list[Found] = []

    def visit(group, path: str) -> None:
        arrays = _cell_arrays(group)
        key = path.replace("_layer_checkpoint_dependencies", "layers")
        cls, cfg = configs.get(key, (None, None))
        short = path.rsplit("/", 1)[-1]
        names = [short] + ([cfg["name"]] if cfg and cfg.get("name") else [])
        if arrays is not None:
            found.append(Found(names, [KerasLayer(arrays, cfg, f"layer '{names[-1]}'", cls)], path))
            return
        fw, bw = group.get("forward_layer"), group.get("backward_layer")
        if isinstance(fw, h5py.Group) and isinstance(bw, h5py.Group):
            fa, ba = _cell_arrays(fw), _cell_arrays(bw)
            if fa is not None and ba is not None:
                fcfg, bcfg = _bidirectional_configs(cfg) if cfg else (None, {"go_backwards": True})
                inner = ((cfg or {}).get("layer") or {}).get("class_name")
                back = ((cfg or {}).get("backward_layer") or {}).get("class_name", inner)
                found.append(Found(names, [KerasLayer(fa, fcfg, f"layer '{names[-1]}' (forward)", inner, cfg),
                                           KerasLayer(ba, bcfg, f"layer '{names[-1]}' (backward)", back, cfg)],
                                   path))
                return
        for child in group:
            sub = group[child]
            if isinstance(sub, h5py.Group) and child != "vars":
                visit(sub, f"{path}/{child}" if path else child)

    visit(h5, "")
    return found


# ------------------------------------------------------------------------------------ legacy Keras 2
def _attr_list(group, name: str) -> list[str]:
    """A string-list attribute, also when Keras split it into ``name0``, ``name1`` ... chunks."""
    def decode(v):
        return [x.decode("utf8") if isinstance(x, bytes) else str(x) for x in v]
    if name in group.attrs:
        return decode(group.attrs[name])
    out, k = [], 0
    while f"{name}{k}" in group.attrs:
        out += decode(group.attrs[f"{name}{k}"])
        k += 1
    return out


def _legacy_configs(h5) -> dict[str, tuple[str, dict]]:
    raw = h5.attrs.get("model_config")
    if raw is None:
        return {}
    cfg = json.loads(raw.decode("utf8") if isinstance(raw, bytes) else raw)
    layers = cfg.get("config", {})
    layers = layers.get("layers", []) if isinstance(layers, dict) else layers
    return {entry["config"]["name"]: (entry.get("class_name"), entry["config"]) for entry in layers
            if isinstance(entry.get("config"), dict) and "name" in entry["config"]}


def _walk_legacy(h5) -> list[Found]:
    root = h5["model_weights"] if "model_weights" in h5 else h5
    configs = _legacy_configs(h5)
    found = []
    for lname in _attr_list(root, "layer_names"):
        g = root[lname]
        wnames = _attr_list(g, "weight_names")
        arrays = [np.asarray(g[w]) for w in wnames]
        cls, cfg = configs.get(lname, (None, None))
        if _is_recurrent(arrays):
            found.append(Found([lname], [KerasLayer(arrays, cfg, f"layer '{lname}'", cls)], lname))
        elif len(arrays) in (4, 6):
            fwd = [a for w, a in zip(wnames, arrays) if "backward" not in w.split("/", 1)[-1]]
            bwd = [a for w, a in zip(wnames, arrays) if "backward" in w.split("/", 1)[-1]]
            if len(fwd) != len(bwd):
                fwd, bwd = arrays[: len(arrays) // 2], arrays[len(arrays) // 2:]
            if _is_recurrent(fwd) and _is_recurrent(bwd):
                fcfg, bcfg = _bidirectional_configs(cfg) if cfg else (None, {"go_backwards": True})
                inner = ((cfg or {}).get("layer") or {}).get("class_name")
                found.append(Found([lname], [KerasLayer(fwd, fcfg, f"layer '{lname}' (forward)", inner, cfg),
                                             KerasLayer(bwd, bcfg, f"layer '{lname}' (backward)", inner, cfg)],
                                   lname))
    return found


# ------------------------------------------------------------------------------------ reading
def read_layers(path) -> list[Found]:
    """Every recurrent layer (LSTM, GRU, SimpleRNN, and Bidirectional ones) in a Keras weight file.

    Example::

        >>> import os, tempfile, lstmkit
        >>> from lstmkit.export.keras import save_keras_weights
        >>> path = os.path.join(tempfile.mkdtemp(), "gru.weights.h5")
        >>> save_keras_weights(lstmkit.GRU(3, 4, bidirectional=True), path)
        >>> [f.describe() for f in read_layers(path)]
        ["'bidirectional' (Bidirectional(GRU) 3->4 at layers/bidirectional)"]
    """
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no Keras weight file at {path!r}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            h5name = next((n for n in names if n.endswith(".weights.h5")), None)
            if h5name is None:
                raise ValueError(f"{path}: a .keras archive holds model.weights.h5; this one holds {names}")
            model_cfg = json.loads(z.read("config.json")) if "config.json" in names else {}
            data = io.BytesIO(z.read(h5name))
        with h5py.File(data, "r") as h5:
            return _walk_keras3(h5, _config_paths(model_cfg))
    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is neither an HDF5 file (.weights.h5, legacy .h5) nor a .keras zip: {e}") from e
    with h5:
        if "layer_names" in h5.attrs or "model_weights" in h5:
            return _walk_legacy(h5)
        return _walk_keras3(h5, {})


def read_stack(path, layer, family: str) -> list[list[KerasLayer]]:
    """The layers ``layer`` names (a str, or a list for a stack; None: the only ``family`` layer) of a file,
    as from_keras's stack."""
    found = read_layers(path)
    listing = ", ".join(f.describe() for f in found) or "none"
    if layer is None:
        gates, cls = FAMILIES[family]
        mine = [f for f in found if f.gates() == gates]
        if len(mine) != 1:
            example = ", ".join(repr(f.names[-1]) for f in mine)
            raise ValueError(f"{os.fspath(path)} holds {len(mine)} {cls} layers ({listing}); pick with "
                             f"layer='name' (or layer=[{example}] for a stack)" if mine else
                             f"{os.fspath(path)} holds no {cls} layer; recurrent layers found: {listing}")
        return [mine[0].directions]
    wanted = [layer] if isinstance(layer, str) else list(layer)
    if not wanted:
        raise ValueError(f"layer: an empty list; layers in {os.fspath(path)}: {listing}")
    stack = []
    for name in wanted:
        hits = [f for f in found if name in f.names or name == f.path]
        if not hits:
            raise ValueError(f"no recurrent layer named {name!r} in {os.fspath(path)}; found: {listing}")
        if len(hits) > 1:
            raise ValueError(f"{name!r} names {len(hits)} layers in {os.fspath(path)} "
                             f"({', '.join(h.path for h in hits)}); pass the path instead")
        stack.append(hits[0].directions)
    return stack


# ------------------------------------------------------------------------------------ writing
def write_weights_h5(path, class_name: str, layers: list[list[np.ndarray]], bidirectional: bool) -> None:
    """Write ``layers`` (to_keras's lists) as Keras 3's ``save_weights`` does for a Sequential of
    ``class_name`` layers (each in a Bidirectional when ``bidirectional``): to a temporary file beside
    ``path``, then renamed onto it."""
    from ..train.atomic import atomic_path

    h5py = _h5py()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_group("vars")
        base = snake_case("Bidirectional" if bidirectional else class_name)
        for k, arrays in enumerate(layers):
            g = h5.create_group(f"layers/{base}" + (f"_{k}" if k else ""))
            g.create_group("vars")
            if bidirectional:
                half = len(arrays) // 2
                parts = [("forward_layer", arrays[:half]), ("backward_layer", arrays[half:])]
            else:
                parts = [("", arrays)]
            for sub, arrs in parts:
                owner = g.create_group(sub) if sub else g
                if sub:
                    owner.create_group("vars")
                cell = owner.create_group("cell").create_group("vars")
                for i, a in enumerate(arrs):
                    cell.create_dataset(str(i), data=a)
