"""Keras weight files written with h5py in the layouts Keras writes them (TensorFlow and Keras are not
installed): Keras 3 ``.weights.h5`` (saving_lib's H5IOStore: ``layers/<snake_case class>{_k}/cell/vars/<i>``,
an empty ``vars`` group for every saveable), the ``.keras`` zip (config.json + model.weights.h5 +
metadata.json), and legacy Keras 2 ``.h5`` (``model_weights/<layer>`` with ``weight_names``)."""

from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np

SNAKE = {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "simple_rnn", "Bidirectional": "bidirectional",
         "Dense": "dense", "InputLayer": "input_layer"}
CELL = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}


class Entry:
    """One Keras layer of a model: class name, user name, weights (get_weights() order), config."""

    def __init__(self, cls, name, arrays, config=None, inner=None, backward_config=None):
        self.cls, self.name, self.arrays = cls, name, [np.asarray(a) for a in arrays]
        self.config = dict(config or {})
        self.inner, self.backward_config = inner, backward_config

    def keras_config(self) -> dict:
        cfg = {"name": self.name, "trainable": True, **self.config}
        if self.cls == "Bidirectional":
            fwd = {"name": "forward_" + self.name, "go_backwards": False, **self.config}
            bwd = {**fwd, "name": "backward_" + self.name, "go_backwards": True, **(self.backward_config or {})}
            cfg = {"name": self.name, "merge_mode": self.config.get("merge_mode", "concat"),
                   "layer": {"module": "keras.layers", "class_name": self.inner, "config": fwd},
                   "backward_layer": {"module": "keras.layers", "class_name": self.inner, "config": bwd}}
        return {"module": "keras.layers", "class_name": self.cls, "config": cfg, "registered_name": None,
                "name": self.name, "inbound_nodes": []}


def _write_keras3(h5: h5py.File, entries: list[Entry]) -> None:
    h5.create_group("vars")
    used: dict[str, int] = {}
    for e in entries:
        base = SNAKE[e.cls]
        used[base] = used.get(base, -1) + 1
        g = h5.create_group(f"layers/{base}" + (f"_{used[base]}" if used[base] else ""))
        v = g.create_group("vars")
        if e.cls in CELL:
            cell = g.create_group("cell").create_group("vars")
            for i, a in enumerate(e.arrays):
                cell.create_dataset(str(i), data=a)
        elif e.cls == "Bidirectional":
            half = len(e.arrays) // 2
            for sub, arrs in (("forward_layer", e.arrays[:half]), ("backward_layer", e.arrays[half:])):
                s = g.create_group(sub)
                s.create_group("vars")
                cell = s.create_group("cell").create_group("vars")
                for i, a in enumerate(arrs):
                    cell.create_dataset(str(i), data=a)
        else:                                              # Dense, InputLayer: own vars
            for i, a in enumerate(e.arrays):
                v.create_dataset(str(i), data=a)


def write_weights_h5(path, entries: list[Entry]) -> None:
    """Keras 3 ``model.save_weights("x.weights.h5")`` of a Functional model holding ``entries``."""
    with h5py.File(path, "w") as h5:
        _write_keras3(h5, entries)


def write_keras_zip(path, entries: list[Entry]) -> None:
    """Keras 3 ``model.save("x.keras")``: config.json, metadata.json, model.weights.h5 in a zip."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        _write_keras3(h5, entries)
    config = {"module": "keras", "class_name": "Functional",
              "config": {"name": "functional", "trainable": True,
                         "layers": [e.keras_config() for e in entries]},
              "registered_name": "Functional"}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2026-12-04@19:00:00"}))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", buf.getvalue())


def write_legacy_h5(path, entries: list[Entry], whole_model: bool = True) -> None:
    """Legacy Keras 2 ``model.save("x.h5")`` (``whole_model``) or ``model.save_weights("x.h5")``."""
    counters: dict[str, int] = {}

    def cell_name(cls: str) -> str:
        base = CELL[cls]
        k = counters[base] = counters.get(base, -1) + 1
        return base + (f"_{k}" if k else "")

    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = b"2.15.0"
        h5.attrs["backend"] = b"tensorflow"
        if whole_model:
            cfg = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
                {"class_name": e.keras_config()["class_name"], "config": e.keras_config()["config"]}
                for e in entries]}}
            h5.attrs["model_config"] = json.dumps(cfg).encode("utf8")
            root = h5.create_group("model_weights")
        else:
            root = h5
        root.attrs["layer_names"] = [e.name.encode("utf8") for e in entries]
        for e in entries:
            g = root.create_group(e.name)
            if e.cls in CELL:
                c = cell_name(e.cls)
                names = [f"{e.name}/{c}/{w}:0" for w in ("kernel", "recurrent_kernel", "bias")][: len(e.arrays)]
            elif e.cls == "Bidirectional":
                half = len(e.arrays) // 2
                kinds = ("kernel", "recurrent_kernel", "bias")[:half]
                inner = SNAKE[e.inner]
                cf, cb = cell_name(e.inner), cell_name(e.inner)
                names = [f"{e.name}/forward_{inner}/{cf}/{w}:0" for w in kinds] + \
                        [f"{e.name}/backward_{inner}/{cb}/{w}:0" for w in kinds]
            else:
                names = [f"{e.name}/{w}:0" for w in ("kernel", "bias")][: len(e.arrays)]
            g.attrs["weight_names"] = [n.encode("utf8") for n in names]
            for n, a in zip(names, e.arrays):
                g.create_dataset(n, data=a)
