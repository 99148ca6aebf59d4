"""The sequence classifier's export (one model or an ensemble): token ids or numeric steps and lengths ->
class probabilities."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .common import Exported, _B, _finish, _io, _lengths_for, _onnx_missing, _rng, _valid_mask


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
    valid = _valid_mask(b.g, out, lengths)                                                  # (T, B, 1)
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
