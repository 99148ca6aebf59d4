"""What the job exports share: :class:`Exported` (the exported model, its metadata, example inputs and the
PyTorch reference), the graph builder with the job graphs' composite operations, and the inputs, outputs and
JSON descriptions every job writes the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from torch import nn

from ..graph import MIN_OPSET, Graph
from ..recurrent import emit_recurrent
from ..scan import _np, _valid_mask  # noqa: F401 - _valid_mask: the jobs' lengths mask


@dataclass
class Exported:
    """An exported model: the ONNX ``model``, its JSON ``meta``, ``example(batch, length, seed)`` -> inputs
    (name -> numpy array) and ``reference(inputs)`` -> the PyTorch model's outputs (name -> numpy array)."""

    job: str
    model: object
    meta: dict
    example: Callable[..., dict]
    reference: Callable[[dict], dict]
    compare: tuple = field(default_factory=tuple)        # outputs compared by max_abs_diff (all if empty)
    relative: bool = False                               # differences relative to values above 1 (forecasts)

    def run(self, inputs: dict) -> dict:
        """The ONNX model's outputs on ``inputs`` through onnxruntime (CPU)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3          # not the note that the optional inputs' defaults are not constants
        sess = ort.InferenceSession(self.model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        return dict(zip(names, sess.run(names, inputs)))

    def max_abs_diff(self, inputs: dict) -> float:
        """Largest |onnxruntime - PyTorch| over the compared outputs on ``inputs`` (with :attr:`relative`,
        forecasts in the data's units: divided by the value where it is above 1)."""
        got, want = self.run(inputs), self.reference(inputs)
        worst = 0.0
        for name in self.compare or want:
            a, b = np.asarray(got[name], dtype=np.float64), np.asarray(want[name], dtype=np.float64)
            if a.shape != b.shape:
                raise RuntimeError(f"output {name!r} has shape {a.shape} in onnxruntime, {b.shape} in PyTorch: "
                                   f"the export does not compute the same model")
            if a.size:
                scale = np.maximum(1.0, np.abs(b)) if self.relative else 1.0
                worst = max(worst, float(np.max(np.abs(a - b) / scale)))
        return worst


# ----------------------------------------------------------------------------------- graph helpers
class _B:
    """A :class:`~lstmkit.export.graph.Graph` with the few composite operations the job graphs share."""

    def __init__(self, name: str, opset: int) -> None:
        if opset < MIN_OPSET:
            raise ValueError(f"--opset must be >= {MIN_OPSET} for the job models, got {opset}")
        self.g, self.opset = Graph(name, opset), opset

    def op(self, *args, **kw):
        return self.g.op(*args, **kw)

    def f32(self, array, hint: str) -> str:
        return self.g.const(np.asarray(array, dtype=np.float32), hint)

    def f64(self, array, hint: str) -> str:
        return self.g.const(np.asarray(array, dtype=np.float64), hint)

    def i64(self, values, hint: str = "i") -> str:
        return self.g.const(np.asarray(values, dtype=np.int64), hint)

    def linear(self, x: str, lin: nn.Linear, hint: str) -> str:
        """``x @ W^T + b``."""
        y = self.op("MatMul", [x, self.f32(_np(lin.weight).T, f"{hint}_wT")], hint=hint)
        return y if lin.bias is None else self.op("Add", [y, self.f32(_np(lin.bias), f"{hint}_b")], hint=hint)

    def embed(self, ids: str, emb: nn.Embedding, hint: str) -> str:
        return self.op("Gather", [self.f32(_np(emb.weight), f"{hint}_w"), ids], axis=0, hint=hint)

    def transpose(self, x: str, perm) -> str:
        return self.op("Transpose", [x], perm=list(perm))

    def dim(self, x: str, axis: int) -> str:
        """The scalar int64 size of ``x`` along ``axis``."""
        return self.op("Gather", [self.op("Shape", [x]), self.i64(axis, "axis")], axis=0)

    def unsqueeze(self, x: str, axes) -> str:
        return self.op("Unsqueeze", [x, self.i64(list(axes), "axes")])

    def squeeze(self, x: str, axes) -> str:
        return self.op("Squeeze", [x, self.i64(list(axes), "axes")])

    def reduce(self, op: str, x: str, axes, keepdims: int = 0) -> str:
        if op == "ReduceSum" or self.opset >= 18:
            return self.op(op, [x, self.i64(list(axes), "axes")], keepdims=keepdims)
        return self.op(op, [x], axes=list(axes), keepdims=keepdims)

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op("Slice", [x, self.i64([start]), self.i64([end]), self.i64([axis])])

    def take(self, x: str, index: int, axis: int) -> str:
        """``x`` indexed at ``index`` along ``axis`` (the axis removed)."""
        return self.op("Gather", [x, self.i64(index, "index")], axis=axis)

    def sort_last(self, x: str, k: int) -> str:
        """``x`` sorted ascending along its last axis of size ``k``."""
        return self.op("TopK", [x, self.i64([k], "k")], outputs=2, axis=-1, largest=0, sorted=1)[0]

    def recurrent(self, layer, x: str, h0=None, c0=None, lengths=None):
        return emit_recurrent(self.g, layer, x, h0=h0, c0=c0, lengths=lengths)

    def char_words(self, chars: str, char_lengths: str, enc) -> str:
        """:class:`~lstmkit.tasks.tagger.model.CharEncoder` on words spelled in ``chars`` (..., L) with
        ``char_lengths`` (...) -> (..., 2 * hidden): [last forward state; last backward state]."""
        L = self.slice(self.op("Shape", [chars]), -1, 1 << 30, 0)
        flat = self.op("Reshape", [chars, self.op("Concat", [self.i64([-1]), L], axis=0)])               # (N, L)
        n = self.op("Reshape", [char_lengths, self.i64([-1], "shape")])                                  # (N,)
        n = self.op("Max", [n, self.i64(1, "one")])            # a padding word reads one (pad) character
        x = self.embed(self.transpose(flat, (1, 0)), enc.embed, "char_embed")                            # (L, N, E)
        _, h, _ = self.recurrent(enc.rnn, x, lengths=n)                                                  # (2, N, H)
        v = self.op("Concat", [self.take(h, 0, 0), self.take(h, 1, 0)], axis=1)                          # (N, 2H)
        lead = self.slice(self.op("Shape", [chars]), 0, -1, 0)
        return self.op("Reshape", [v, self.op("Concat", [lead, self.i64([-1])], axis=0)])               # (..., 2H)


def _onnx_missing() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install lstmkit[onnx]") from None


def _state_shapes(layer) -> tuple[int, int, int]:
    """(layers x directions, size of h, size of c) of a recurrent layer's state."""
    n = layer.num_layers * (2 if layer.bidirectional else 1)
    hidden = layer.hidden_size
    return n, (getattr(layer, "proj_size", 0) or hidden), hidden


def _is_lstm(layer) -> bool:
    return type(layer).__name__ == "LSTM"


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _lengths_for(rng, batch: int, length: int) -> np.ndarray:
    """Sequence lengths in [1, length], the longest equal to ``length``."""
    out = rng.integers(1, length + 1, size=batch).astype(np.int64)
    out[0] = length
    return out


def _state_inputs(b: _B, rnn, first: str) -> tuple:
    """Inputs h0 (and c0 for an LSTM) and temperature, each optional: a caller that leaves one out gets zeros
    (a fresh start) and 1.0 (defaults stored as initializers of the same names, see :func:`_finish`).
    Returns ``(h0, c0, temperature, defaults)``, the states broadcast to the batch of ``first`` (B, ...)."""
    n, hp, hc = _state_shapes(rnn)
    lstm = _is_lstm(rnn)
    batch = b.op("Shape", [first], start=0, end=1)
    states, defaults = [], {"temperature": np.array(1.0, np.float32)}
    for name, size in (("h0", hp), ("c0", hc)) if lstm else (("h0", hp),):
        v = b.g.input(name, "float32", [n, "batch", size])
        defaults[name] = np.zeros((n, 1, size), np.float32)
        shape = b.op("Concat", [b.i64([n]), batch, b.i64([size])], axis=0)
        states.append(b.op("Expand", [v, shape]))                            # (n, 1, size) -> (n, B, size)
    temp = b.g.input("temperature", "float32", [])
    return states[0], (states[1] if lstm else None), temp, defaults


def _finish(b: _B, outputs: dict, defaults: dict | None = None):
    """The checked ModelProto with the graph outputs ``{name: (value, dtype, shape)}``; ``defaults`` (input
    name -> array) makes those inputs optional: an initializer of the input's name is its value when the
    caller gives none (ONNX's default-value inputs, which onnxruntime lets a caller override)."""
    import onnx

    for name, (value, dtype, shape) in outputs.items():
        b.g.output(name, dtype, shape, value=value)
    model = b.g.model()
    if defaults:
        model.graph.initializer.extend(onnx.numpy_helper.from_array(np.asarray(a), name)
                                       for name, a in defaults.items())
        onnx.checker.check_model(model)
    return model


def _io(spec: dict, optional: dict | None = None) -> list[dict]:
    """JSON description of inputs or outputs: ``{name: (shape, dtype)}`` -> [{name, shape, dtype}], with
    ``optional`` (name -> what a left-out input is) marked."""
    out = [{"name": k, "shape": shape, "dtype": dtype} for k, (shape, dtype) in spec.items()]
    for item in out:
        if optional and item["name"] in optional:
            item.update(optional=True, default=optional[item["name"]])
    return out


#: what an optional state or temperature input is when left out (JSON)
STATE_DEFAULTS = {"h0": "zeros", "c0": "zeros", "temperature": 1.0}


def stateful_head(b: _B, rnn, x: str, head: nn.Linear, squash: str, first: tuple, width: int) -> tuple:
    """The generative models' graph (char-LM, music): the recurrent stack over ``x`` (T, B, features) from
    optional initial states, the head's ``logits`` (B, T, width), ``probabilities`` = squash(logits /
    temperature) (``"Softmax"`` over the last axis or ``"Sigmoid"``) and the final states. ``first`` is the
    data input's ``(name, shape, dtype)``, already made by the caller. Returns the finished model and the
    JSON's ``inputs`` and ``outputs``."""
    n, hp, hc = _state_shapes(rnn)
    lstm = _is_lstm(rnn)
    h0, c0, temp, defaults = _state_inputs(b, rnn, first[0])
    out, h_n, c_n = b.recurrent(rnn, x, h0=h0, c0=c0)                                        # (T, B, H)
    logits = b.transpose(b.linear(out, head, "head"), (1, 0, 2))                            # (B, T, width)
    scaled = b.op("Div", [logits, temp])
    probs = b.op("Softmax", [scaled], axis=-1) if squash == "Softmax" else b.op(squash, [scaled])
    names = {"logits": logits, "probabilities": probs, "h_n": h_n, **({"c_n": c_n} if lstm else {})}
    shapes = {"logits": ["batch", "steps", width], "probabilities": ["batch", "steps", width],
              "h_n": [n, "batch", hp], "c_n": [n, "batch", hc]}
    onnx_model = _finish(b, {k: (v, "float32", shapes[k]) for k, v in names.items()}, defaults)
    inputs = {first[0]: (first[1], first[2]), "h0": ([n, "batch", hp], "float32"),
              **({"c0": ([n, "batch", hc], "float32")} if lstm else {}), "temperature": ([], "float32")}
    return onnx_model, {"inputs": _io(inputs, STATE_DEFAULTS),
                        "outputs": _io({k: (shapes[k], "float32") for k in names})}


def example_states(rng: np.random.Generator, rnn, batch: int, temperature: float) -> dict:
    """Random initial states (h0, and c0 for an LSTM) and a temperature, for :func:`stateful_head`'s inputs."""
    n, hp, hc = _state_shapes(rnn)
    feed = {"h0": rng.standard_normal((n, batch, hp)).astype(np.float32) * 0.5,
            "temperature": np.array(temperature, dtype=np.float32)}
    if _is_lstm(rnn):
        feed["c0"] = rng.standard_normal((n, batch, hc)).astype(np.float32) * 0.5
    return feed


def stateful_reference(model, x, feed: dict, squash) -> dict:
    """What :func:`stateful_head`'s graph computes, by the PyTorch ``model`` (``model(x (T, B, ...), state) ->
    (logits (T, B, width), state)``) from ``feed``'s h0/c0 and temperature: numpy logits, probabilities
    (``squash`` of logits / temperature), h_n and c_n."""
    import torch

    lstm = _is_lstm(model.rnn)
    h = torch.from_numpy(feed["h0"])
    with torch.no_grad():
        logits, state = model(x, (h, torch.from_numpy(feed["c0"])) if lstm else h)
    logits = logits.transpose(0, 1)
    out = {"logits": logits, "probabilities": squash(logits / float(feed["temperature"]))}
    out["h_n"], out["c_n"] = state if lstm else (state, None)
    return {k: v.numpy() for k, v in out.items() if v is not None}
