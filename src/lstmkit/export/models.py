"""Whole job models as ONNX graphs: the trained network of a charlm, tagger, classify, forecast, music or ctc run,
with what a user needs around it (vocabulary, label names, normalisation) in a JSON file beside the .onnx.

Each ``*_export`` function reproduces the model's eval ``forward`` op by op: the recurrent stacks through
:func:`~lstmkit.export.graph.emit_recurrent`, embeddings, heads, pooling and the job's pre- and
post-processing (the forecaster's Box-Cox, seasonal component and scaling) with plain ONNX operators, so the
graph takes what a user has (token ids, raw series values) and gives what they want (probabilities, tags,
forecasts in the data's units). :func:`export_run` does it for a run folder and returns an
:class:`Exported`, which also makes example inputs and the PyTorch model's outputs for them (the check of
``lstmkit export``, and of the tests).

Example::

    >>> import torch
    >>> from lstmkit.tasks.charlm import CharLM, CharLMConfig, Vocab
    >>> from lstmkit.export.models import charlm_export
    >>> vocab = Vocab.from_text("hello world")
    >>> model = CharLM(len(vocab), CharLMConfig(hidden=8, embed=4, layers=1)).eval()
    >>> exp = charlm_export(model, vocab)
    >>> exp.max_abs_diff(exp.example(batch=2, length=5)) < 1e-5
    True
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["Exported", "JOBS", "export_run", "save", "charlm_export", "tagger_export", "classify_export",
           "forecast_export", "music_export", "ctc_export", "json_path"]

#: the jobs whose runs export (task name -> what the model becomes)
JOBS = {"charlm": "token ids -> next-character logits and probabilities, states in and out",
        "tagger": "word ids (+ character ids) and lengths -> tag scores, probabilities and tags",
        "classify": "token ids or numeric steps and lengths -> class probabilities",
        "forecast": "the window of past values (+ covariates, phases) -> quantile forecasts in the data's units",
        "music": "piano-roll frames -> next-frame key logits and probabilities, states in and out",
        "ctc": "per-column features and lengths -> CTC log-probabilities (blank 0) and the best path"}

def _graph_module():
    from . import graph
    return graph


def json_path(onnx_path) -> pathlib.Path:
    """``model.onnx`` -> ``model.json`` (beside it)."""
    p = pathlib.Path(onnx_path)
    return p.with_suffix(".json") if p.suffix == ".onnx" else p.with_name(p.name + ".json")


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


def save(exp: Exported, onnx_path) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``model.onnx`` and ``model.json`` beside it, each atomically (never half written)."""
    from ..train.atomic import write_bytes, write_json

    onnx_path = pathlib.Path(onnx_path)
    meta_path = json_path(onnx_path)
    meta = {**exp.meta, "onnx": onnx_path.name}
    write_bytes(onnx_path, exp.model.SerializeToString())
    write_json(meta_path, meta)
    return onnx_path, meta_path


# ----------------------------------------------------------------------------------- graph helpers
class _B:
    """A :class:`~lstmkit.export.graph.Graph` with the few composite operations the job graphs share."""

    def __init__(self, name: str, opset: int) -> None:
        graph = _graph_module()
        if opset < graph.MIN_OPSET:
            raise ValueError(f"--opset must be >= {graph.MIN_OPSET} for the job models, got {opset}")
        self.g, self.opset = graph.Graph(name, opset), opset

    def op(self, *args, **kw):
        return self.g.op(*args, **kw)

    def f32(self, array, hint: str) -> str:
        return self.g.const(np.asarray(array, dtype=np.float32), hint)

    def f64(self, array, hint: str) -> str:
        return self.g.const(np.asarray(array, dtype=np.float64), hint)

    def i64(self, values, hint: str = "i") -> str:
        return self.g.const(np.asarray(values, dtype=np.int64), hint)

    def t(self, tensor) -> np.ndarray:
        return tensor.detach().float().cpu().numpy()

    def linear(self, x: str, lin: nn.Linear, hint: str) -> str:
        """``x @ W^T + b``."""
        y = self.op("MatMul", [x, self.f32(self.t(lin.weight).T, f"{hint}_wT")], hint=hint)
        return y if lin.bias is None else self.op("Add", [y, self.f32(self.t(lin.bias), f"{hint}_b")], hint=hint)

    def embed(self, ids: str, emb: nn.Embedding, hint: str) -> str:
        return self.op("Gather", [self.f32(self.t(emb.weight), f"{hint}_w"), ids], axis=0, hint=hint)

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

    def valid(self, steps_of: str, lengths: str) -> str:
        """(T, B) bool: step t < lengths[b], T the first dimension of ``steps_of``."""
        T = self.dim(steps_of, 0)
        t = self.op("Range", [self.i64(0, "zero"), T, self.i64(1, "one")])                 # (T,)
        return self.op("Less", [self.unsqueeze(t, [1]), self.unsqueeze(lengths, [0])])    # (T, B)

    def sort_last(self, x: str, k: int) -> str:
        """``x`` sorted ascending along its last axis of size ``k``."""
        return self.op("TopK", [x, self.i64([k], "k")], outputs=2, axis=-1, largest=0, sorted=1)[0]

    def recurrent(self, layer, x: str, h0=None, c0=None, lengths=None):
        return _graph_module().emit_recurrent(self.g, layer, x, h0=h0, c0=c0, lengths=lengths)

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


# --------------------------------------------------------------------------------------- charlm
CHARLM_HOW = [
    "Inputs: ids (B, T) int64 (one row per sequence); optional: h0 (and c0 for an LSTM) the recurrent state "
    "(left out: zeros, a fresh start), temperature a float32 scalar (left out: 1.0, the model's own "
    "distribution).",
    "Generate: encode the prompt with 'vocab' (id = index; characters outside it read as the unknown id 0); "
    "run ids = prompt (1, T) without states; take probabilities[0, -1] (or argmax of logits[0, -1] with id 0 "
    "excluded for greedy); draw the next id (never id 0, the unknown symbol); run again with ids = [[next]] "
    "and h0/c0 = the h_n/c_n just returned; repeat. Decode ids with vocab[id].",
]


def charlm_export(model, vocab, opset: int = 17) -> Exported:
    """The character language model ``model`` (:class:`~lstmkit.tasks.charlm.CharLM`) with its ``vocab``."""
    _onnx_missing()
    model = model.eval()
    rnn, V = model.rnn, model.vocab_size
    lstm = _is_lstm(rnn)
    n, hp, hc = _state_shapes(rnn)
    b = _B("lstmkit_charlm", opset)
    ids = b.g.input("ids", "int64", ["batch", "steps"])
    h0, c0, temp, defaults = _state_inputs(b, rnn, ids)
    x = b.embed(b.transpose(ids, (1, 0)), model.embed, "embed")                             # (T, B, E)
    out, h_n, c_n = b.recurrent(rnn, x, h0=h0, c0=c0)                                        # (T, B, H)
    logits = b.transpose(b.linear(out, model.head, "head"), (1, 0, 2))                      # (B, T, V)
    probs = b.op("Softmax", [b.op("Div", [logits, temp])], axis=-1)
    names = {"logits": logits, "probabilities": probs, "h_n": h_n, **({"c_n": c_n} if lstm else {})}
    shapes = {"logits": ["batch", "steps", V], "probabilities": ["batch", "steps", V], "h_n": [n, "batch", hp],
              "c_n": [n, "batch", hc]}
    onnx_model = _finish(b, {k: (v, "float32", shapes[k]) for k, v in names.items()}, defaults)
    inputs = {"ids": (["batch", "steps"], "int64"), "h0": ([n, "batch", hp], "float32"),
              **({"c0": ([n, "batch", hc], "float32")} if lstm else {}), "temperature": ([], "float32")}
    meta = {"job": "charlm", "inputs": _io(inputs, STATE_DEFAULTS),
            "outputs": _io({k: (shapes[k], "float32") for k in names}),
            "vocab": list(vocab.chars), "unknown_id": 0, "cell": type(rnn).__name__, "layers": rnn.num_layers,
            "how_to_run": CHARLM_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        feed = {"ids": rng.integers(1, V, size=(batch, length)).astype(np.int64),
                "h0": rng.standard_normal((n, batch, hp)).astype(np.float32) * 0.5,
                "temperature": np.array(0.8, dtype=np.float32)}
        if lstm:
            feed["c0"] = rng.standard_normal((n, batch, hc)).astype(np.float32) * 0.5
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        ids_t = torch.from_numpy(feed["ids"]).t()
        h = torch.from_numpy(feed["h0"])
        state = (h, torch.from_numpy(feed["c0"])) if lstm else h
        logits, state = model(ids_t, state)
        logits = logits.transpose(0, 1)
        out = {"logits": logits, "probabilities": torch.softmax(logits / float(feed["temperature"]), -1)}
        out["h_n"], out["c_n"] = (state if lstm else (state, None))
        return {k: v.numpy() for k, v in out.items() if v is not None}

    return Exported("charlm", onnx_model, meta, example, reference)


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


# --------------------------------------------------------------------------------------- tagger
TAGGER_HOW = [
    "Inputs: words (B, T) int64 word ids (lowercased first when 'lowercase'; a word outside 'words' reads as "
    "unknown_word_id), lengths (B,) int64 words per sentence (pad past it with 0); with character features "
    "also chars (B, T, L) int64 the ids of each word's characters ('chars'; outside it: unknown_char_id; "
    "0-padded) and char_lengths (B, T) int64 characters per word.",
    "Outputs: scores (B, T, n_tags) and probabilities (softmax over the tags), tags (B, T) int64 the most "
    "likely tag id (name: tags[id]); positions past a sentence's length are padding: ignore them.",
]


def tagger_export(model, vocab, opset: int = 17) -> Exported:
    """The tagger ``model`` (:class:`~lstmkit.tasks.tagger.Tagger`, softmax per word: it has no CRF) with its
    ``vocab`` (:class:`~lstmkit.tasks.tagger.vocab.TaggerVocab`)."""
    _onnx_missing()
    model = model.eval()
    K = model.head.out_features
    b = _B("lstmkit_tagger", opset)
    words = b.g.input("words", "int64", ["batch", "steps"])
    lengths = b.g.input("lengths", "int64", ["batch"])
    spelled = model.char_encoder is not None
    inputs = {"words": (["batch", "steps"], "int64"), "lengths": (["batch"], "int64")}
    parts = []
    if model.word_embed is not None:
        parts.append(b.embed(b.transpose(words, (1, 0)), model.word_embed, "word_embed"))    # (T, B, Ew)
    if spelled:
        chars = b.g.input("chars", "int64", ["batch", "steps", "word_length"])
        char_lengths = b.g.input("char_lengths", "int64", ["batch", "steps"])
        inputs.update(chars=(["batch", "steps", "word_length"], "int64"), char_lengths=(["batch", "steps"], "int64"))
        v = b.char_words(chars, char_lengths, model.char_encoder)                           # (B, T, 2Hc)
        parts.append(b.transpose(v, (1, 0, 2)))                                              # (T, B, 2Hc)
    x = b.op("Concat", parts, axis=2) if len(parts) > 1 else parts[0]
    out, _, _ = b.recurrent(model.rnn, x, lengths=lengths)                                   # (T, B, 2H)
    scores = b.transpose(b.linear(out, model.head, "head"), (1, 0, 2))                       # (B, T, K)
    probs = b.op("Softmax", [scores], axis=-1)
    tags = b.op("ArgMax", [scores], axis=-1, keepdims=0)
    shapes = {"scores": ["batch", "steps", K], "probabilities": ["batch", "steps", K], "tags": ["batch", "steps"]}
    onnx_model = _finish(b, {"scores": (scores, "float32", shapes["scores"]),
                             "probabilities": (probs, "float32", shapes["probabilities"]),
                             "tags": (tags, "int64", shapes["tags"])})
    meta = {"job": "tagger", "inputs": _io(inputs),
            "outputs": _io({"scores": (shapes["scores"], "float32"), "probabilities": (shapes["probabilities"],
                            "float32"), "tags": (shapes["tags"], "int64")}),
            "words": vocab.words, "chars": vocab.chars if spelled else [], "tags": vocab.tags,
            "lowercase": vocab.lowercase, "pad_id": 0, "unknown_word_id": 1, "unknown_char_id": 1,
            "character_features": spelled, "decoding": "argmax per word (softmax tagger, no CRF)",
            "how_to_run": TAGGER_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        n = _lengths_for(rng, batch, length)
        valid = np.arange(length)[None, :] < n[:, None]
        feed = {"words": np.where(valid, rng.integers(1, len(vocab.words), (batch, length)), 0).astype(np.int64),
                "lengths": n}
        if spelled:
            L = 6
            cl = np.where(valid, rng.integers(1, L + 1, (batch, length)), 0).astype(np.int64)
            ch = rng.integers(1, len(vocab.chars), (batch, length, L))
            feed["chars"] = np.where(np.arange(L)[None, None, :] < cl[..., None], ch, 0).astype(np.int64)
            feed["char_lengths"] = cl
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        from ..tasks.tagger.model import Batch

        w = torch.from_numpy(feed["words"])
        B, T = w.shape
        if spelled:
            cl = torch.from_numpy(feed["char_lengths"]).reshape(-1).clamp(min=1)            # one word per position
            chars = torch.from_numpy(feed["chars"]).reshape(B * T, -1).t()
            types = torch.arange(B * T).reshape(B, T).t()
        else:
            cl, chars, types = torch.ones(1, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long), \
                torch.zeros(T, B, dtype=torch.long)
        s = model(Batch(w.t(), torch.from_numpy(feed["lengths"]), chars, cl, types)).transpose(0, 1)
        return {"scores": s.numpy(), "probabilities": s.softmax(-1).numpy(), "tags": s.argmax(-1).numpy()}

    return Exported("tagger", onnx_model, meta, example, reference)


# ------------------------------------------------------------------------------------- classify
def _classifier_member(b: _B, m, x_in: str, lengths: str, kind: str) -> str:
    """One :class:`~lstmkit.tasks.classify.SequenceClassifier` -> its logits (B, C)."""
    if kind == "numeric":
        e = b.linear(b.transpose(x_in, (1, 0, 2)), m.input, "input")                        # (T, B, E)
    else:
        ids = b.take(x_in, 0, 2) if m.spelling is not None else x_in                         # (B, T)
        e = b.embed(b.transpose(ids, (1, 0)), m.input, "embed")                              # (T, B, E)
        if m.spelling is not None:
            K = b.slice(x_in, 1, 1 << 30, 2)                                                 # (B, T, K)
            n = b.reduce("ReduceSum", b.op("Cast", [b.op("Greater", [K, b.i64(0, "zero")])], to=7), [2])
            v = b.char_words(K, n, m.spelling)                                               # (B, T, 2Hc)
            e = b.op("Concat", [e, b.transpose(v, (1, 0, 2))], axis=2)
    out, h, _ = b.recurrent(m.rnn, e, lengths=lengths)                                       # (T, B, D*H)
    valid = b.unsqueeze(b.valid(out, lengths), [2])                                          # (T, B, 1)
    if m.pooling == "last":
        n_h = m.rnn.num_layers * m.directions
        pooled = b.op("Concat", [b.take(h, n_h - m.directions + k, 0) for k in range(m.directions)], axis=1)
    elif m.pooling == "mean":
        total = b.reduce("ReduceSum", b.op("Where", [valid, out, b.f32(0.0, "zero")]), [0])              # (B, D*H)
        pooled = b.op("Div", [total, b.unsqueeze(b.op("Cast", [lengths], to=1), [1])])
    elif m.pooling == "max":
        pooled = b.reduce("ReduceMax", b.op("Where", [valid, out, b.f32(-np.inf, "ninf")]), [0])
    else:
        s = b.linear(b.op("Tanh", [out]), m.score, "score")                                 # (T, B, 1)
        w = b.op("Softmax", [b.op("Where", [valid, s, b.f32(-np.inf, "ninf")])], axis=0)
        pooled = b.reduce("ReduceSum", b.op("Mul", [w, out]), [0])
    return b.linear(pooled, m.head, "head")                                                  # (B, C)


CLASSIFY_HOW = [
    "Inputs: lengths (B,) int64 the steps of each sequence; text runs: ids (B, T) int64 token ids (id of "
    "tokens[k] is k + 2; 0 pads past a sequence's end, 1 is the unknown token; 'mode' char: one token per "
    "character, word: whitespace-separated words; cut to max_len steps when max_len > 0); with 'spell' > 0 "
    "ids is (B, T, 1 + spell): the word id then the ids of its first 'spell' characters (id of chars[k] is "
    "k + 2, 1 unknown, 0-padded); numeric runs: values (B, T, features) float32.",
    "Outputs: probabilities (B, C) over 'classes' (an ensemble: the members' averaged probabilities), logits "
    "(B, C) their logarithm up to a constant, label (B,) int64 the most likely class index.",
]


def classify_export(model, encoder, opset: int = 17) -> Exported:
    """The sequence classifier ``model`` (a :class:`~lstmkit.tasks.classify.SequenceClassifier` or an
    ensemble of them) with its ``encoder`` (:class:`~lstmkit.tasks.classify.task.Encoder`)."""
    _onnx_missing()
    model = model.eval()
    members = list(model.members) if hasattr(model, "members") and isinstance(model.members, nn.ModuleList) \
        else [model]
    C = model.n_classes
    kind, spell = encoder.kind, encoder.spell
    b = _B("lstmkit_classify", opset)
    if kind == "numeric":
        name, shape, dtype = "values", ["batch", "steps", encoder.features], "float32"
    elif spell:
        name, shape, dtype = "ids", ["batch", "steps", 1 + spell], "int64"
    else:
        name, shape, dtype = "ids", ["batch", "steps"], "int64"
    x = b.g.input(name, dtype, shape)
    lengths = b.g.input("lengths", "int64", ["batch"])
    logits = [_classifier_member(b, m, x, lengths, kind) for m in members]
    if len(logits) == 1:
        z = logits[0]
        probs = b.op("Softmax", [z], axis=-1)
    else:
        stacked = b.op("Concat", [b.unsqueeze(b.op("Softmax", [z], axis=-1), [0]) for z in logits], axis=0)
        probs = b.reduce("ReduceMean", stacked, [0]) if b.opset >= 18 else \
            b.op("Div", [b.reduce("ReduceSum", stacked, [0]), b.f32(float(len(logits)), "members")])
        z = b.op("Log", [probs])
    label = b.op("ArgMax", [probs], axis=-1, keepdims=0)
    onnx_model = _finish(b, {"logits": (z, "float32", ["batch", C]), "probabilities": (probs, "float32", ["batch", C]),
                             "label": (label, "int64", ["batch"])})
    meta = {"job": "classify", "kind": kind, "inputs": _io({name: (shape, dtype), "lengths": (["batch"], "int64")}),
            "outputs": _io({"logits": (["batch", C], "float32"), "probabilities": (["batch", C], "float32"),
                            "label": (["batch"], "int64")}),
            "classes": encoder.classes, "members": len(members), "pooling": members[0].pooling,
            "how_to_run": CLASSIFY_HOW}
    if kind == "text":
        meta.update(tokens=encoder.tokens, token_id_offset=2, pad_id=0, unknown_id=1, mode=encoder.mode,
                    max_len=encoder.max_len, spell=spell, chars=encoder.chars)
    else:
        meta.update(features=encoder.features, max_len=encoder.max_len)

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        n = _lengths_for(rng, batch, length)
        valid = np.arange(length)[None, :] < n[:, None]
        if kind == "numeric":
            v = rng.standard_normal((batch, length, encoder.features)).astype(np.float32)
            return {"values": np.where(valid[..., None], v, 0).astype(np.float32), "lengths": n}
        ids = np.where(valid, rng.integers(1, len(encoder.tokens) + 2, (batch, length)), 0)
        if spell:
            k = rng.integers(0, spell + 1, (batch, length))
            ch = rng.integers(1, len(encoder.chars) + 2, (batch, length, spell))
            ch = np.where((np.arange(spell)[None, None] < k[..., None]) & valid[..., None], ch, 0)
            ids = np.concatenate([ids[..., None], ch], axis=2)
        return {"ids": ids.astype(np.int64), "lengths": n}

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        xs = torch.from_numpy(feed[name]).transpose(0, 1)
        z = model(xs, torch.from_numpy(feed["lengths"]))
        p = z.softmax(-1)
        return {"logits": (z if len(members) == 1 else p.log()).numpy(), "probabilities": p.numpy(),
                "label": p.argmax(-1).numpy()}

    return Exported("classify", onnx_model, meta, example, reference, compare=("probabilities", "logits"))


# ------------------------------------------------------------------------------------- forecast
FORECAST_HOW = [
    "Inputs: values (B, window) float64 the last 'window' values of the target, oldest first, in the data's "
    "units; phase (B, window + horizon) float64 each of those rows' and the next 'horizon' rows' position in "
    "the season (0 <= phase < period: (month - 1) % period for monthly dates, round(time / step) % period "
    "for numeric times, the row number % period otherwise; see 'phase_rule'), only when the model reads "
    "phases; covariates (B, window, C) float64 the covariate columns of the same rows, raw, only when it has "
    "some; series (B,) int64 which series each row is (its index in 'series'), only for a global run.",
    "Output: forecast (B, horizon, Q) float64 the quantiles 'quantiles' of the next 'horizon' values in the "
    "data's units, sorted along Q (calibrated when 'calibration_factors' is set); the median is the point "
    "forecast. The graph does the model's whole preparation (Box-Cox, seasonal Fourier component, scaling: "
    "'normalisation', one entry per series) and undoes it; nothing to compute outside but the phases.",
]

PHASE_RULE = ("monthly: (year * 12 + month - 1) % period; quarterly: (year * 4 + quarter - 1) % period; daily, "
              "hourly, weekly: time since 2000-01-01 in the calendar's unit, modulo the period (fractional for a "
              "yearly season); numeric times: round(time / step) % period; else the row number % period "
              "(lstmkit.tasks.forecast.prep.phases)")


class _PerSeries:
    """Constants of the series' preparations: one value each (gathered by the ``series`` input of a global
    model) or, for one series, a plain constant."""

    def __init__(self, b: _B, series) -> None:
        self.b, self.series = b, series

    def __call__(self, values, hint: str, rank: int = 2) -> str:
        """(B, 1, ...) of rank ``rank`` holding each row's series' value (a scalar constant for one series)."""
        arr = np.asarray(values, dtype=np.float64)
        if self.series is None:
            return self.b.f64(arr[0], hint)
        v = self.b.op("Gather", [self.b.f64(arr, hint), self.series], axis=0)               # (B, ...)
        return self.b.unsqueeze(v, list(range(1, rank - arr.ndim + 1)))


def _boxcox(b: _B, y: str, lams: list, per: _PerSeries, inverse: bool = False) -> str:
    """Box-Cox (or its inverse) with each series' exponent among 0 (log), 0.5, 1 (none); float64."""
    def fixed(lam):
        if lam == 1.0:
            return y
        if lam == 0.0:
            return b.op("Exp", [b.op("Min", [y, b.f64(700.0, "cap")])]) if inverse else b.op("Log", [y])
        one, zero = b.f64(1.0, "one"), b.f64(0.0, "zero")
        if inverse:
            base = b.op("Max", [b.op("Add", [b.op("Mul", [y, b.f64(lam, "lam")]), one]), zero])
            return b.op("Pow", [base, b.f64(1.0 / lam, "inv_lam")])
        return b.op("Div", [b.op("Sub", [b.op("Pow", [b.op("Max", [y, zero]), b.f64(lam, "lam")]), one]),
                            b.f64(lam, "lam")])

    if len(set(lams)) == 1:
        return fixed(lams[0])
    lam = per(lams, "lam")                                                                 # (B, 1)
    out = y
    for value in sorted(set(lams) - {1.0}):        # each series' own branch; the others' results unused
        out = b.op("Where", [b.op("Equal", [lam, b.f64(value, "lam")]), fixed(value), out])
    return out


def _seasonal(b: _B, phase: str, coefs: np.ndarray, period: int, per: _PerSeries) -> str:
    """(B, N) phases -> (B, N) seasonal component: Fourier terms (cos k, sin k; k = 1..K) @ the coefficients."""
    K = coefs.shape[1] // 2
    k = np.arange(1, K + 1, dtype=np.float64)
    a = b.op("Div", [b.op("Mul", [b.op("Mul", [b.f64(2 * np.pi, "two_pi"), b.unsqueeze(phase, [2])]), b.f64(k, "k")]),
                     b.f64(float(period), "period")])                                       # (B, N, K)
    terms = b.op("Concat", [b.op("Cos", [a]), b.op("Sin", [a])], axis=2)                     # (B, N, 2K)
    if per.series is None:
        return b.op("MatMul", [terms, b.f64(coefs[0], "season_coef")])                       # (B, N)
    c = b.op("Gather", [b.f64(coefs, "season_coef"), per.series], axis=0)                   # (B, 2K)
    return b.squeeze(b.op("MatMul", [terms, b.unsqueeze(c, [2])]), [2])


def _forecast_member(b: _B, net, x: str) -> str:
    """One :class:`~lstmkit.tasks.forecast.model.Member` on x (B, W, F) float32 -> (B, H, Q)."""
    out, h, c = b.recurrent(net.encoder, x)                                                  # (B, W, hidden)
    if net.decoder == "direct":
        q = b.linear(b.take(out, -1, 1), net.head, "head")                                   # (B, H*Q)
        q = b.op("Reshape", [q, b.i64([0, net.horizon, net.n_q], "shape")])                  # (B, H, Q)
        if net.skip is not None:
            past = b.op("Reshape", [b.slice(x, 0, net.skip_channels, 2), b.i64([0, -1], "shape")])  # (B, W*C)
            q = b.op("Add", [q, b.unsqueeze(b.linear(past, net.skip, "skip"), [2])])
        return q
    inp = b.slice(b.slice(x, -1, 1 << 30, 1), 0, 1, 2)                                       # (B, 1, 1)
    preds = []
    for _ in range(net.horizon):
        y, h, c = b.recurrent(net.dec, inp, h0=h, c0=c)                                      # (B, 1, hidden)
        q = b.linear(y, net.head, "head")                                                    # (B, 1, Q)
        preds.append(q)
        inp = b.slice(q, net.median, net.median + 1, 2)
    return b.op("Concat", preds, axis=1)                                                      # (B, H, Q)


def _forecast_inputs(b: _B, W: int, H: int, C: int, needs_phase: bool, names: list) -> dict:
    spec = {"values": (["batch", W], "float64")}
    if needs_phase:
        spec["phase"] = (["batch", W + H], "float64")
    if C:
        spec["covariates"] = (["batch", W, C], "float64")
    if len(names) > 1:
        spec["series"] = (["batch"], "int64")
    return {k: (b.g.input(k, dtype, shape), shape, dtype) for k, (shape, dtype) in spec.items()}


def forecast_export(model, cfg, meta: dict, opset: int = 17) -> Exported:
    """The forecaster ``model`` (:class:`~lstmkit.tasks.forecast.Forecaster`) with its config and checkpoint
    metadata (each series' preparation, covariate scaling, calibration factors): one series, or a global run's
    several (a ``series`` input picks each row's preparation)."""
    from ..tasks.forecast.prep import Prep
    from ..tasks.forecast.windows import Scaler

    _onnx_missing()
    model = model.eval()
    parts = meta["parts"] if meta.get("global") else {(meta.get("names") or ["y"])[0]: meta}
    names = list(parts)
    preps = [Prep.from_json(parts[n]["prep"]) for n in names]
    scalers = [Scaler.from_json(parts[n]["covariates"]) for n in names]
    blanks = [bool(parts[n].get("blank_level", False)) for n in names]
    W, H, Q, period = cfg.window, cfg.horizon, len(cfg.quantiles), preps[0].period
    C, factors, level = len(scalers[0].mean), meta.get("factors"), bool(meta["level"])
    K2 = max(len(p.season_coef) for p in preps)
    coefs = np.array([list(p.season_coef) or [0.0] * K2 for p in preps], dtype=np.float64)  # (S, 2K)
    needs_phase = period > 1 or K2 > 0
    b = _B("lstmkit_forecast", opset)
    ins = _forecast_inputs(b, W, H, C, needs_phase, names)
    val = {k: v[0] for k, v in ins.items()}
    per = _PerSeries(b, val.get("series"))
    d = _boxcox(b, val["values"], [p.lam for p in preps], per)                               # (B, W)
    seas = _seasonal(b, val["phase"], coefs, period, per) if K2 else None                   # (B, W + H)
    if seas is not None:
        d = b.op("Sub", [d, b.slice(seas, 0, W, 1)])
    anchor = b.slice(d, W - 1, W, 1)                                                          # (B, 1)
    scale = per([p.scale for p in preps], "scale")
    parts_x = [b.unsqueeze(b.op("Div", [b.op("Sub", [d, anchor]), scale]), [2])]              # (B, W, 1)
    if level:
        lv = b.op("Div", [b.op("Sub", [d, per([p.level for p in preps], "level")]),
                          per([p.spread for p in preps], "spread")])
        if any(blanks):                                   # a global run's series without a level of its own
            lv = b.op("Mul", [lv, per([0.0 if x else 1.0 for x in blanks], "has_level")])
        parts_x.append(b.unsqueeze(lv, [2]))
    if period > 1:
        a = b.op("Div", [b.op("Mul", [b.f64(2 * np.pi, "two_pi"), b.slice(val["phase"], 0, W, 1)]),
                         b.f64(float(period), "period")])
        parts_x += [b.unsqueeze(b.op("Cos", [a]), [2]), b.unsqueeze(b.op("Sin", [a]), [2])]
    if C:
        parts_x.append(b.op("Div", [b.op("Sub", [val["covariates"], b.f64(scalers[0].mean, "cov_mean")]),
                                    b.f64(scalers[0].std, "cov_std")]))
    x = b.op("Cast", [b.op("Concat", parts_x, axis=2)], to=1)                                # (B, W, F) float32
    outs = [_forecast_member(b, net, x) for net in model.nets]
    if len(outs) == 1:
        units = outs[0]
    else:                                                  # torch.median: the lower middle value
        stacked = b.op("Concat", [b.unsqueeze(o, [0]) for o in outs], axis=0)                # (K, B, H, Q)
        srt = b.op("TopK", [stacked, b.i64([len(outs)], "k")], outputs=2, axis=0, largest=0, sorted=1)[0]
        units = b.take(srt, (len(outs) - 1) // 2, 0)
    units = b.op("Cast", [b.sort_last(units, Q)], to=11)                                     # (B, H, Q) float64
    if factors is not None:
        m = cfg.median_index
        med = b.slice(units, m, m + 1, 2)
        units = b.sort_last(b.op("Add", [med, b.op("Mul", [b.f64(factors, "factors"), b.op("Sub", [units, med])])]), Q)
    scale3 = per([p.scale for p in preps], "scale", rank=3)
    dd = b.op("Add", [b.unsqueeze(anchor, [2]), b.op("Mul", [units, scale3])])
    if seas is not None:
        dd = b.op("Add", [dd, b.unsqueeze(b.slice(seas, W, W + H, 1), [2])])
    out = _boxcox(b, dd, [p.lam for p in preps], _PerSeries3(per), inverse=True)
    onnx_model = _finish(b, {"forecast": (out, "float64", ["batch", H, Q])})
    norm = [{"series": n, "box_cox_lambda": p.lam, "season_coef": list(p.season_coef), "level": p.level,
             "spread": p.spread, "scale": p.scale, "blank_level": x, "covariate_mean": s.mean.tolist(),
             "covariate_std": s.std.tolist()} for n, p, s, x in zip(names, preps, scalers, blanks)]
    meta_out = {"job": "forecast", "inputs": _io({k: (v[1], v[2]) for k, v in ins.items()}),
                "outputs": _io({"forecast": (["batch", H, Q], "float64")}),
                "window": W, "horizon": H, "quantiles": list(cfg.quantiles), "median_index": cfg.median_index,
                "series": names, "covariates": list(cfg.covariates) if C else [], "period": period,
                "calendar": preps[0].calendar, "phase_rule": PHASE_RULE if needs_phase else None,
                "level_channel": level, "normalisation": norm, "calibration_factors": factors,
                "ensemble": len(model.nets), "decoder": cfg.decoder, "how_to_run": FORECAST_HOW}

    def example(batch: int = 2, length: int = 0, seed: int = 0) -> dict:
        rng = _rng(seed)
        which = rng.integers(0, len(names), size=batch)
        start = rng.integers(0, max(period, 1), size=(batch, 1))
        ph = np.mod(start + np.arange(W + H)[None, :], max(period, 1)).astype(np.float64)
        walk = np.cumsum(rng.standard_normal((batch, W)) * 0.3, axis=1)
        rows = [preps[s].inverse(preps[s].level + preps[s].spread * walk[i], ph[i, :W]) for i, s in enumerate(which)]
        feed = {"values": np.stack(rows).astype(np.float64)}
        if needs_phase:
            feed["phase"] = ph
        if C:
            feed["covariates"] = scalers[0].mean + scalers[0].std * rng.standard_normal((batch, W, C))
        if len(names) > 1:
            feed["series"] = which.astype(np.int64)
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        from ..tasks.forecast.task import predict
        from ..tasks.forecast.windows import Encoded, make_windows

        rows = []
        for i, v in enumerate(feed["values"]):
            s = int(feed["series"][i]) if len(names) > 1 else 0
            prep, sc = preps[s], scalers[s]
            ph = feed["phase"][i] if needs_phase else np.zeros(W + H)
            cv = feed["covariates"][i] if C else np.zeros((W, 0))
            enc = Encoded(prep.forward(v, ph[:W]), ph, (cv - sc.mean) / sc.std, v)
            w = make_windows(enc, [W], W, H, prep, level, blanks[s])
            rows.append(predict(model, w, prep, factors, cfg.median_index)[0])
        return {"forecast": np.stack(rows)}

    return Exported("forecast", onnx_model, meta_out, example, reference, relative=True)


class _PerSeries3(_PerSeries):
    """:class:`_PerSeries` giving (B, 1, 1) values: for the (B, H, Q) forecasts."""

    def __init__(self, per: _PerSeries) -> None:
        super().__init__(per.b, per.series)

    def __call__(self, values, hint: str, rank: int = 3) -> str:
        return super().__call__(values, hint, rank)


# ---------------------------------------------------------------------------------------- music
MUSIC_HOW = [
    "Inputs: frames (B, T, keys) float32 piano-roll frames (1: the key sounds); optional: h0 (and c0 for an "
    "LSTM) the recurrent state (left out: zeros), temperature a float32 scalar (left out: 1.0).",
    "Outputs: logits (B, T, keys); probabilities = sigmoid(logits / temperature), each key's chance of sounding "
    "in the next frame; h_n (and c_n) the state after the last frame.",
    "Generate: run the prime frames (or one silent frame) without states; draw each key of the next frame as "
    "Bernoulli(probabilities[0, -1]) (temperature 0: keys with logit > 0); run that frame alone with h0/c0 = "
    "the returned h_n/c_n; repeat.",
]


def music_export(model, meta: dict, opset: int = 17) -> Exported:
    """The piano-roll model ``model`` (:class:`~lstmkit.tasks.music.MusicRNN`) with its checkpoint metadata."""
    _onnx_missing()
    model = model.eval()
    rnn, K = model.rnn, model.width
    lstm = _is_lstm(rnn)
    n, hp, hc = _state_shapes(rnn)
    b = _B("lstmkit_music", opset)
    frames = b.g.input("frames", "float32", ["batch", "steps", K])
    h0, c0, temp, defaults = _state_inputs(b, rnn, frames)
    out, h_n, c_n = b.recurrent(rnn, b.transpose(frames, (1, 0, 2)), h0=h0, c0=c0)          # (T, B, H)
    logits = b.transpose(b.linear(out, model.head, "head"), (1, 0, 2))                      # (B, T, K)
    probs = b.op("Sigmoid", [b.op("Div", [logits, temp])])
    shapes = {"logits": ["batch", "steps", K], "probabilities": ["batch", "steps", K], "h_n": [n, "batch", hp],
              "c_n": [n, "batch", hc]}
    names = {"logits": logits, "probabilities": probs, "h_n": h_n, **({"c_n": c_n} if lstm else {})}
    onnx_model = _finish(b, {k: (v, "float32", shapes[k]) for k, v in names.items()}, defaults)
    inputs = {"frames": (["batch", "steps", K], "float32"), "h0": ([n, "batch", hp], "float32"),
              **({"c0": ([n, "batch", hc], "float32")} if lstm else {}), "temperature": ([], "float32")}
    meta_out = {"job": "music", "inputs": _io(inputs, STATE_DEFAULTS),
                "outputs": _io({k: (shapes[k], "float32") for k in names}),
                "keys": K, "frame_seconds": meta.get("frame_seconds"), "source": meta.get("source"),
                "cell": type(rnn).__name__, "layers": rnn.num_layers, "how_to_run": MUSIC_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        feed = {"frames": (rng.random((batch, length, K)) < 0.1).astype(np.float32),
                "h0": rng.standard_normal((n, batch, hp)).astype(np.float32) * 0.5,
                "temperature": np.array(0.9, dtype=np.float32)}
        if lstm:
            feed["c0"] = rng.standard_normal((n, batch, hc)).astype(np.float32) * 0.5
        return feed

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        h = torch.from_numpy(feed["h0"])
        logits, state = model(torch.from_numpy(feed["frames"]).transpose(0, 1),
                              (h, torch.from_numpy(feed["c0"])) if lstm else h)
        logits = logits.transpose(0, 1)
        out = {"logits": logits, "probabilities": torch.sigmoid(logits / float(feed["temperature"]))}
        out["h_n"], out["c_n"] = state if lstm else (state, None)
        return {k: v.numpy() for k, v in out.items() if v is not None}

    return Exported("music", onnx_model, meta_out, example, reference)


# ------------------------------------------------------------------------------------------ ctc
CTC_HOW = [
    "Inputs: features (B, T, features) float32, step t the 8 pixels (0..1, top to bottom) of column t of a line "
    "of digits as lstmkit.tasks.ctc.lines draws them; lengths (B,) int64 the columns of each line.",
    "Outputs: log_probs (B, T, 1 + labels) per-column log-probabilities, index 0 the CTC blank, index k the "
    "label labels[k - 1]; best (B, T) int64 their argmax.",
    "Greedy decoding: take best[b, :lengths[b]], merge runs of the same index, drop the blanks (0), read "
    "labels[index - 1]. Prefix beam search (lstmkit.tasks.ctc.decode.beam_search) reads log_probs.",
]


def ctc_export(model, meta: dict, opset: int = 17) -> Exported:
    """The CTC model ``model`` (:class:`~lstmkit.tasks.ctc.CTCModel`) with its checkpoint metadata."""
    _onnx_missing()
    model = model.eval()
    F, C = model.rnn.input_size, model.head.out_features
    b = _B("lstmkit_ctc", opset)
    x = b.g.input("features", "float32", ["batch", "steps", F])
    lengths = b.g.input("lengths", "int64", ["batch"])
    out, _, _ = b.recurrent(model.rnn, b.transpose(x, (1, 0, 2)), lengths=lengths)          # (T, B, 2H)
    logp = b.transpose(b.op("LogSoftmax", [b.linear(out, model.head, "head")], axis=-1), (1, 0, 2))
    best = b.op("ArgMax", [logp], axis=-1, keepdims=0)
    onnx_model = _finish(b, {"log_probs": (logp, "float32", ["batch", "steps", C]),
                             "best": (best, "int64", ["batch", "steps"])})
    meta_out = {"job": "ctc", "inputs": _io({"features": (["batch", "steps", F], "float32"),
                                            "lengths": (["batch"], "int64")}),
                "outputs": _io({"log_probs": (["batch", "steps", C], "float32"),
                                "best": (["batch", "steps"], "int64")}),
                "labels": list(meta.get("labels", [])), "blank": int(meta.get("blank", 0)), "features": F,
                "how_to_run": CTC_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        return {"features": rng.random((batch, length, F)).astype(np.float32),
                "lengths": _lengths_for(rng, batch, length)}

    @torch.no_grad()
    def reference(feed: dict) -> dict:
        z = model(torch.from_numpy(feed["features"]).transpose(0, 1), torch.from_numpy(feed["lengths"]))
        z = z.transpose(0, 1)
        return {"log_probs": z.numpy(), "best": z.argmax(-1).numpy()}

    return Exported("ctc", onnx_model, meta_out, example, reference)


# ------------------------------------------------------------------------------------- run folders
def export_run(run_path, checkpoint: str = "auto", opset: int = 17) -> Exported:
    """The model of run folder ``run_path`` (``checkpoint`` best, last or auto) exported for its job."""
    from ..train import RunDir

    _onnx_missing()
    task = RunDir.open(run_path).task
    if task not in JOBS:
        raise ValueError(f"{run_path} is a {task!r} run; lstmkit export supports {', '.join(JOBS)} runs")
    if task == "charlm":
        from ..tasks.charlm import load_model
        model, vocab, _ = load_model(run_path, checkpoint)
        return charlm_export(model, vocab, opset)
    if task == "tagger":
        from ..tasks.tagger import load_tagger
        model, vocab, _ = load_tagger(run_path, checkpoint)
        return tagger_export(model, vocab, opset)
    if task == "classify":
        from ..tasks.classify.jobs import load_classifier
        model, encoder, _ = load_classifier(run_path, checkpoint)
        return classify_export(model, encoder, opset)
    if task == "music":
        from ..tasks.music.jobs import load_model as load_music
        model, _, meta, _ = load_music(run_path, checkpoint)
        return music_export(model, meta, opset)
    if task == "ctc":
        from ..tasks.ctc.jobs import load_model as load_ctc
        from ..train import load_checkpoint
        model, which = load_ctc(run_path, checkpoint)
        return ctc_export(model, load_checkpoint(RunDir.open(run_path).checkpoints, which)["state"].get("meta", {}),
                          opset)
    from ..tasks.forecast.jobs import load_model as load_forecaster
    model, cfg, meta, _ = load_forecaster(run_path, checkpoint)
    return forecast_export(model, cfg, meta, opset)
