"""onnxruntime as a contender: the torch.nn module exported to ONNX (its LSTM/GRU/RNN operators) and run
on onnxruntime's CPU provider, the way a user deploying a recurrent model on CPU would. Optional: needs
``pip install lstmkit[bench]`` (onnx and onnxruntime); without them the contender is skipped."""

from __future__ import annotations

import io
import warnings
from typing import Callable

import torch
from torch import nn

NAME = "onnxruntime"
#: the cells whose torch.nn module exports to one ONNX operator (ONNX's LSTM has no projection: no LSTM+proj)
CELLS = ("LSTM", "GRU", "RNN-tanh")
MISSING = "onnxruntime not installed: pip install lstmkit[bench]"
#: largest |onnxruntime - lstmkit| over a point's outputs before the benchmark refuses to time it
TOLERANCE = 1e-4
#: session.intra_op.allow_spinning: onnxruntime's intra-op threads spin-wait for work after each run (on by
#: default). Measured here (2 shared cores, 2 threads, block timing of timing.interleaved, medians of 7 rounds,
#: lstmkit / torch.nn / onnxruntime inference, LSTM) with spinning on against off, in turns in one process:
#: onnxruntime itself was not faster with it -- (1, 1000, 64, 64) 1.73-12.5 ms on against 1.80-3.81 off,
#: (32, 100, 64, 128) 15.6-16.7 against 10.4-16.7 -- while its spinning threads, which outlast the next
#: contender's warm-up call, slowed lstmkit 16 -> 24-32 ms and torch.nn 24 -> 32-44 ms at (1, 1000, 64, 64)
#: (14-15 -> 20-24 and 15-16 -> 23 at (32, 100, 64, 128)); with it off both kept their times without
#: onnxruntime at (1, 1000, 64, 64), lstmkit too at (32, 100, 64, 128) (torch.nn 15-16 -> 19 there). So
#: the benchmark turns spinning off: not slower for onnxruntime, fairer to the others.
ALLOW_SPINNING = "0"


def missing() -> str | None:
    """Why the contender cannot run here (onnx or onnxruntime not importable), or None when it can."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return MISSING
    return None


def export(module: nn.Module, x: torch.Tensor) -> bytes:
    """``module`` (torch.nn.LSTM/GRU/RNN) as ONNX bytes through the TorchScript exporter, which emits ONNX's
    LSTM/GRU/RNN operators; input "x" of shape (T, B, I) with T and B dynamic."""
    outputs = ["y", "h", "c"] if isinstance(module, nn.LSTM) else ["y", "h"]
    buffer = io.BytesIO()
    with warnings.catch_warnings():          # the legacy exporter's deprecation, tracer and batch-size notes
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (x.detach(),), buffer, dynamo=False, input_names=["x"], output_names=outputs,
                          dynamic_axes={"x": {0: "T", 1: "B"}})
    return buffer.getvalue()


def session(model: bytes, allow_spinning: str = ALLOW_SPINNING):
    """An onnxruntime CPU session on ``model`` with torch's thread count, all graph optimisations."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", allow_spinning)
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def contender(module: nn.Module, x: torch.Tensor, allow_spinning: str = ALLOW_SPINNING) -> Callable:
    """``fn(x) -> y``: ``module`` run by onnxruntime, float32 numpy in, the output sequence (T, B, H) out as a
    tensor sharing its memory (``x`` is converted when called, without a copy for a contiguous CPU tensor)."""
    sess = session(export(module, x), allow_spinning)

    def run(x_: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(sess.run(["y"], {"x": x_.detach().numpy().astype("float32", copy=False)})[0])
    return run


def check(got: torch.Tensor, want: torch.Tensor, where: str) -> float:
    """Largest |got - want|; raises when above :data:`TOLERANCE` (the benchmark would time a wrong answer)."""
    if got.shape != want.shape:
        raise RuntimeError(f"onnxruntime's output has shape {tuple(got.shape)}, lstmkit's {tuple(want.shape)} "
                           f"({where}): the ONNX export does not compute the same layer")
    diff = float((got - want).abs().max()) if got.numel() else 0.0
    if not diff <= TOLERANCE:
        raise RuntimeError(f"onnxruntime's output differs from lstmkit's by up to {diff:.3g} (> {TOLERANCE:g}) at "
                           f"{where}: the ONNX export does not compute the same layer, so it is not timed")
    return diff
