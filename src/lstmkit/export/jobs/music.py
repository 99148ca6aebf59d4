"""The piano-roll model's export: frames -> next-frame key logits and probabilities, states in and out."""

from __future__ import annotations

import numpy as np
import torch

from .common import Exported, _B, _onnx_missing, _rng, example_states, stateful_head, stateful_reference


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
    b = _B("lstmkit_music", opset)
    frames = b.g.input("frames", "float32", ["batch", "steps", K])
    onnx_model, io = stateful_head(b, rnn, b.transpose(frames, (1, 0, 2)), model.head, "Sigmoid",
                                   ("frames", ["batch", "steps", K], "float32"), K)
    meta_out = {"job": "music", **io, "keys": K, "frame_seconds": meta.get("frame_seconds"),
                "source": meta.get("source"), "cell": type(rnn).__name__, "layers": rnn.num_layers,
                "how_to_run": MUSIC_HOW}

    def example(batch: int = 2, length: int = 7, seed: int = 0) -> dict:
        rng = _rng(seed)
        frames_ = (rng.random((batch, length, K)) < 0.1).astype(np.float32)
        return {"frames": frames_, **example_states(rng, rnn, batch, 0.9)}

    def reference(feed: dict) -> dict:
        return stateful_reference(model, torch.from_numpy(feed["frames"]).transpose(0, 1), feed, torch.sigmoid)

    return Exported("music", onnx_model, meta_out, example, reference)
