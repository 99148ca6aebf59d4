"""Whole job models as ONNX graphs: the trained network of a charlm, tagger, classify, forecast, music or ctc run,
with what a user needs around it (vocabulary, label names, normalisation) in a JSON file beside the .onnx.

Each ``*_export`` function reproduces the model's eval ``forward`` op by op: the recurrent stacks through
:func:`~lstmkit.export.graph.emit_recurrent`, embeddings, heads, pooling and the job's pre- and
post-processing (the forecaster's Box-Cox, seasonal component and scaling) with plain ONNX operators, so the
graph takes what a user has (token ids, raw series values) and gives what they want (probabilities, tags,
forecasts in the data's units). :func:`export_run` does it for a run folder and returns an
:class:`Exported`, which also makes example inputs and the PyTorch model's outputs for them (the check of
``lstmkit export``, and of the tests).

Each job's export lives in its own module of :mod:`lstmkit.export.jobs` (the shared pieces in
:mod:`lstmkit.export.jobs.common`); this module gathers them with :func:`export_run` and :func:`save`.

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

# the job modules' names, importable from here as before the split
from .jobs.charlm import CHARLM_HOW, charlm_export  # noqa: F401
from .jobs.classify import CLASSIFY_HOW, classify_export  # noqa: F401
from .jobs.common import STATE_DEFAULTS, Exported, _onnx_missing  # noqa: F401
from .jobs.ctc import CTC_HOW, ctc_export  # noqa: F401
from .jobs.forecast import FORECAST_HOW, PHASE_RULE, forecast_export  # noqa: F401
from .jobs.music import MUSIC_HOW, music_export  # noqa: F401
from .jobs.tagger import TAGGER_HOW, tagger_export  # noqa: F401

__all__ = ["Exported", "JOBS", "export_run", "save", "charlm_export", "tagger_export", "classify_export",
           "forecast_export", "music_export", "ctc_export", "json_path"]

#: the jobs whose runs export (task name -> what the model becomes)
JOBS = {"charlm": "token ids -> next-character logits and probabilities, states in and out",
        "tagger": "word ids (+ character ids) and lengths -> tag scores, probabilities and tags",
        "classify": "token ids or numeric steps and lengths -> class probabilities",
        "forecast": "the window of past values (+ covariates, phases) -> quantile forecasts in the data's units",
        "music": "piano-roll frames -> next-frame key logits and probabilities, states in and out",
        "ctc": "per-column features and lengths -> CTC log-probabilities (blank 0) and the best path"}


def json_path(onnx_path) -> pathlib.Path:
    """``model.onnx`` -> ``model.json`` (beside it)."""
    p = pathlib.Path(onnx_path)
    return p.with_suffix(".json") if p.suffix == ".onnx" else p.with_name(p.name + ".json")


def save(exp: Exported, onnx_path) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``model.onnx`` and ``model.json`` beside it, each atomically (never half written)."""
    from ..train.atomic import write_bytes, write_json

    onnx_path = pathlib.Path(onnx_path)
    meta_path = json_path(onnx_path)
    meta = {**exp.meta, "onnx": onnx_path.name}
    write_bytes(onnx_path, exp.model.SerializeToString())
    write_json(meta_path, meta)
    return onnx_path, meta_path


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
