"""The CTC model's export: per-column features and lengths -> CTC log-probabilities (blank 0) and the best
path."""

from __future__ import annotations

import numpy as np
import torch

from .common import Exported, _B, _finish, _io, _lengths_for, _onnx_missing, _rng


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
