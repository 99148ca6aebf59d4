"""What ``lstmkit train classify`` and ``lstmkit eval`` of classify runs do, callable from Python."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import IO, Optional

import torch

from ...train import CheckpointError, RunDir, TrainResult
from ..runs import absolute_paths, fit_run, open_checkpoint
from ..scores import confusion, format_report, label_scores, plot_confusion
from .config import ClassifyConfig
from .data import read_examples
from .model import build_classifier
from .task import ClassifyTask, Encoder, combine, predict_member_logits

__all__ = ["train", "resume", "load_classifier", "evaluate_run"]


def _resolve(cfg: ClassifyConfig) -> ClassifyConfig:
    absolute_paths(cfg, ("data", "dev", "labels", "dev_labels"))
    cfg.validate()
    return cfg


def train(cfg: ClassifyConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/classify-<timestamp>``); the data are read and checked
    first, so bad input leaves nothing behind.

    Example (the generated waves)::

        >>> import tempfile
        >>> from lstmkit.tasks.classify import ClassifyConfig, train
        >>> cfg = ClassifyConfig(max_steps=40, eval_every=20, hidden=16, embed=8)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        40
    """
    cfg = _resolve(cfg)
    return fit_run(ClassifyTask(cfg), out, stream=stream)[0]


def resume(run_path: str | pathlib.Path, cfg: ClassifyConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint."""
    return fit_run(ClassifyTask(_resolve(cfg)), resume=run_path, stream=stream)[0]


def load_classifier(run_path: str | pathlib.Path, checkpoint: str = "auto"
                    ) -> tuple[torch.nn.Module, Encoder, ClassifyConfig]:
    """``(model in eval mode, encoder, config)`` of a classify run; the model is a
    :class:`~lstmkit.tasks.classify.SequenceClassifier`, or a
    :class:`~lstmkit.tasks.classify.ClassifierEnsemble` for a run with ``--members`` above 1."""
    cfg, state, checkpoint = open_checkpoint(run_path, ClassifyConfig, checkpoint)
    try:
        enc = Encoder.from_json(state["meta"]["encoder"])
        model = build_classifier(len(enc.classes), cfg, vocab_size=len(enc.tokens) + 2 if enc.kind == "text" else 0,
                                 features=enc.features, n_chars=len(enc.chars) + 2 if enc.spell else 0)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's "
                              f"config.json: {str(e).splitlines()[0]}") from None
    return model.eval(), enc, cfg


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """``lstmkit eval`` for classify runs: accuracy, macro-F1, per-class P/R/F1 and a confusion matrix PNG.
    ``--data`` is read like the run's training data (a .npy needs a labels file ``<name>.labels.npy``
    beside it); a label the training data lacks is refused, naming its row. ``args.ensemble`` (more classify
    runs) scores the ensemble of ``run`` and them: the class probabilities of every run's members averaged
    (the runs must tell the same classes apart; each reads the data with its own vocabulary)."""
    runs = [run.path] + [r.path for r in getattr(args, "ensemble", [])]
    loaded = [load_classifier(path, getattr(args, "checkpoint", "auto")) for path in runs]
    _, enc, cfg = loaded[0]
    for path, (_, other, _) in zip(runs[1:], loaded[1:]):
        if other.classes != enc.classes or other.kind != enc.kind:
            raise ValueError(f"{path} tells {other.kind} sequences into {other.classes}; expected the classes "
                             f"{enc.classes} of {enc.kind} sequences like {runs[0]} (an ensemble's runs must agree)")
    p = pathlib.Path(data)
    labels = str(p.with_suffix(".labels.npy")) if p.suffix == ".npy" else ""
    ex = read_examples(data, cfg, labels)
    if ex.kind != enc.kind:
        raise ValueError(f"{data} holds {ex.kind} sequences; the run was trained on {enc.kind} sequences")
    y = enc.encode(ex)[1]
    members = torch.cat([predict_member_logits(model, e.encode(ex)[0], c.eval_batch_size)
                         for model, e, c in loaded])                              # (M, N, C), every run's members
    pred = combine(members).argmax(1)
    matrix = confusion(y, pred, len(enc.classes))
    scores = label_scores(matrix, enc.classes)
    if members.shape[0] > 1:
        scores["members"] = members.shape[0]
        scores["member_accuracy"] = [round(v, 6) for v in (members.argmax(2) == y).float().mean(1).tolist()]
    out = pathlib.Path(args.out) if getattr(args, "out", None) else run.path / "eval"
    png = out / f"confusion-{p.stem}.png"
    plot_confusion(matrix, enc.classes, png, f"confusion: {p.name}")
    scores["confusion_png"] = str(png)
    print(format_report(scores, "class"))
    if members.shape[0] > 1:
        acc = scores["member_accuracy"]
        print(f"ensemble of {len(acc)} members: accuracy {scores['accuracy']:.4f}; members alone "
              f"{min(acc):.4f}..{max(acc):.4f} (mean {sum(acc) / len(acc):.4f})")
    print(f"confusion matrix: {png}")
    return json.loads(json.dumps(scores))
