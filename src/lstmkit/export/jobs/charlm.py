"""The character language model's export: token ids -> next-character logits and probabilities, states
in and out."""

from __future__ import annotations

import numpy as np
import torch

from .common import Exported, _B, _onnx_missing, _rng, example_states, stateful_head, stateful_reference


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
    b = _B("lstmkit_charlm", opset)
    ids = b.g.input("ids", "int64", ["batch", "steps"])
    x = b.embed(b.transpose(ids, (1, 0)), model.embed, "embed")                             # (T, B, E)
    onnx_model, io = stateful_head(b, rnn, x, model.head, "Softmax", ("ids", ["batch", "steps"], "int64"), V)
    meta = {"job": "charlm", **io, "vocab": list(vocab.chars), "unknown_id": 0, "cell": type(rnn).__name__,
            "layers": rnn.num_layers, "how_to_run": CHARLM_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        ids_ = rng.integers(1, V, size=(batch, length)).astype(np.int64)
        return {"ids": ids_, **example_states(rng, rnn, batch, 0.8)}

    def reference(feed: dict) -> dict:
        return stateful_reference(model, torch.from_numpy(feed["ids"]).t(), feed, lambda z: torch.softmax(z, -1))

    return Exported("charlm", onnx_model, meta, example, reference)
