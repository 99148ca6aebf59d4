"""``lstmkit export RUN_DIR --onnx model.onnx``: a trained run's whole model as ONNX, with a JSON file beside
it (inputs and outputs, vocabulary, label names, normalisation, how to run it), checked in onnxruntime
against the PyTorch model before anything is written."""

from __future__ import annotations

import argparse
import pathlib

__all__ = ["register", "export_command", "TOLERANCE"]

#: largest |onnxruntime - PyTorch| (forecasts: relative for values above 1) the check accepts before refusing
#: to write
TOLERANCE = 1e-4

HELP = """\
Export a trained run's model to ONNX (model.onnx) with model.json beside it: the graph's inputs and outputs
(names, shapes, dtypes), the vocabulary or label names, the normalisation constants and how to run it, for
use from any onnxruntime (Python, C#, C++, Java, JavaScript). The whole model is exported, pre- and
post-processing included (a forecaster takes raw values and gives forecasts in the data's units). Before
writing, the export runs in onnxruntime on a generated input and is compared with the PyTorch model; the
largest difference is printed. Supported runs: charlm, tagger, classify, forecast (one series or global),
music and ctc; docs/export.md describes each model's inputs and outputs.
"""

EPILOG = """\
examples:
  lstmkit train charlm --max-steps 200 --out runs/lm
  lstmkit export runs/lm --onnx lm.onnx                 # writes lm.onnx and lm.json
  lstmkit export runs/tagger --onnx tagger.onnx --checkpoint last --opset 18
  python -c "import onnxruntime as ort; print([i.name for i in ort.InferenceSession('lm.onnx').get_inputs()])"
"""


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise ImportError(f"lstmkit export needs onnx and onnxruntime ({e.name or 'onnx'} is not installed): "
                          f"pip install lstmkit[onnx]") from None


def _check_opset(opset: int) -> None:
    """An opset this onnx knows (ValueError naming the range otherwise; the graphs need 17 or newer)."""
    import onnx

    from .graph import MIN_OPSET

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"--opset must be in [{MIN_OPSET}, {newest}] (onnx {onnx.__version__} knows opsets up to "
                         f"{newest}), got {opset}")


def _checked(exp, opset: int) -> float:
    """The largest difference from PyTorch on a generated input; an onnxruntime that cannot load or run the
    model (an opset newer than it supports) is a one-line error."""
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    try:
        return exp.max_abs_diff(exp.example(batch=3, length=11, seed=0))
    except (ort_errors.Fail, ort_errors.InvalidGraph, ort_errors.NotImplemented) as e:
        first = str(e).split("\n")[0][:300]
        raise ValueError(f"onnxruntime {onnxruntime.__version__} cannot run the exported model (opset {opset}): "
                         f"{first}; expected an opset it supports (17 works everywhere)") from None


def export_command(run_dir, onnx_path, checkpoint: str = "auto", opset: int = 17, stream=None) -> float:
    """Export run ``run_dir`` to ``onnx_path`` (and its .json), after checking it in onnxruntime; returns the
    largest difference from the PyTorch model. Nothing is written when the check fails.

    Example::

        >>> import contextlib, io, pathlib, tempfile
        >>> from lstmkit.tasks.charlm import CharLMConfig, train
        >>> from lstmkit.export.cli import export_command
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> cfg = CharLMConfig(max_steps=2, hidden=8, embed=4, layers=1, batch_size=2, seq_len=8, eval_every=2,
        ...                    eval_chars=100, sample_chars=0, final_sample=0)
        >>> _ = train(cfg, d / "run", stream=open("/dev/null", "w"))
        >>> export_command(d / "run", d / "lm.onnx", stream=io.StringIO()) < 1e-4, (d / "lm.json").is_file()
        (True, True)
    """
    import sys

    from ..train import RunDir
    from ..train.atomic import check_output
    from .models import export_run, json_path, save

    _need_onnx()
    run = RunDir.open(run_dir)                                   # a folder that is not a run: one line
    onnx_path = pathlib.Path(onnx_path)
    if onnx_path.suffix != ".onnx":
        raise ValueError(f"--onnx {onnx_path}: expected a file name ending in .onnx (its .json goes beside it)")
    check_output(onnx_path, flag="--onnx")
    check_output(json_path(onnx_path), flag="--onnx (its .json)")
    _check_opset(opset)
    exp = export_run(run.path, checkpoint, opset)
    diff = _checked(exp, opset)
    if not diff <= TOLERANCE:
        raise ValueError(f"the ONNX model differs from the PyTorch model by up to {diff:.3g} (> {TOLERANCE:g}) on a "
                         f"generated input; nothing written (please report this run's config.json)")
    model_file, meta_file = save(exp, onnx_path)
    out = stream or sys.stdout
    print(f"exported the {exp.job} run {run.path} to {model_file} and {meta_file}", file=out)
    what = "max relative diff (values above 1)" if exp.relative else "max abs diff"
    print(f"checked in onnxruntime on a generated input: {what} from PyTorch {diff:.3g}", file=out)
    return diff


def _export(args: argparse.Namespace) -> None:
    export_command(args.run, args.onnx, args.checkpoint, args.opset)


def register(commands, train_commands) -> None:
    """Add ``lstmkit export`` to the command line."""
    p = commands.add_parser("export", help="export a trained run's model to ONNX (with a JSON of its inputs, "
                                           "vocabulary, labels)", description=HELP, epilog=EPILOG,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN_DIR", help="the run folder (charlm, tagger, classify, forecast, music or ctc)")
    p.add_argument("--onnx", required=True, metavar="MODEL.onnx", help="the ONNX file to write (MODEL.json is "
                                                                        "written beside it)")
    p.add_argument("--checkpoint", default="auto", choices=("auto", "best", "last"),
                   help="which checkpoint (default auto: best if there is one; a forecast run's refit model first)")
    p.add_argument("--opset", type=int, default=17, metavar="N", help="ONNX opset version (>= 17; default 17)")
    p.set_defaults(func=_export)
