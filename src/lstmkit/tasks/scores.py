"""Classification scores shared by the tagger and the sequence classifier: accuracy, per-label precision,
recall and F1, macro-F1, the confusion matrix (as numbers and as a PNG)."""

from __future__ import annotations

import pathlib
from typing import Sequence

import torch

__all__ = ["confusion", "label_scores", "format_report", "plot_confusion"]


def confusion(gold: torch.Tensor, pred: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) int64 counts: row = gold label, column = predicted label."""
    return torch.bincount(gold * n + pred, minlength=n * n).reshape(n, n)


def label_scores(matrix: torch.Tensor, labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1 (over labels that occur in gold or predictions) and per-label P/R/F1/support.

    Example::

        >>> import torch
        >>> from lstmkit.tasks.scores import confusion, label_scores
        >>> m = confusion(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2]), 3)
        >>> s = label_scores(m, ["A", "B", "C"])
        >>> s["accuracy"], round(s["macro_f1"], 4), s["labels"]["B"]
        (0.75, 0.7778, {'precision': 0.5, 'recall': 1.0, 'f1': 0.6667, 'support': 1})
    """
    m = matrix.double()
    tp, gold, pred = m.diagonal(), m.sum(1), m.sum(0)
    per, f1s = {}, []
    for k, name in enumerate(labels):
        p = float(tp[k] / pred[k]) if pred[k] else 0.0
        r = float(tp[k] / gold[k]) if gold[k] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(gold[k])}
        if gold[k] or pred[k]:
            f1s.append(f)
    total = float(m.sum())
    return {"accuracy": float(tp.sum()) / total if total else 0.0, "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
            "count": int(total), "labels": per}


def format_report(scores: dict, what: str = "label") -> str:
    """The per-label table and the totals as text."""
    width = max([len(what)] + [len(k) for k in scores["labels"]])
    lines = [f"{what:<{width}}  precision  recall     f1  support"]
    for name, s in scores["labels"].items():
        lines.append(f"{name:<{width}}  {s['precision']:9.4f}  {s['recall']:6.4f}  {s['f1']:.4f}  {s['support']:7d}")
    lines.append(f"accuracy {100 * scores['accuracy']:.2f}% of {scores['count']}, "
                 f"macro-F1 {100 * scores['macro_f1']:.2f}%")
    return "\n".join(lines)


def plot_confusion(matrix: torch.Tensor, labels: Sequence[str], path: str | pathlib.Path, title: str) -> None:
    """The confusion matrix as a PNG (rows: gold, columns: predicted; colour: share of the gold row),
    written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..train.atomic import atomic_path

    m = matrix.double()
    share = m / m.sum(1, keepdim=True).clamp(min=1)
    n = len(labels)
    size = max(4.0, 0.35 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if m[i, j]:
                    ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=6,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
