"""``metrics.jsonl`` (one JSON object per logged step) and ``loss.png`` (train and validation curves)."""

from __future__ import annotations

import json
import pathlib

from . import atomic

__all__ = ["MetricsLog", "plot_losses"]


class MetricsLog:
    """Append-only JSON lines, one per logged step; :meth:`truncate_after` rewinds it to a checkpoint.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.train.metrics import MetricsLog
        >>> log = MetricsLog(pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl")
        >>> log.append({"step": 1, "train_loss": 2.5}); log.append({"step": 2, "train_loss": 2.1})
        >>> log.truncate_after(1); [r["step"] for r in log.read()]
        [1]
    """

    def __init__(self, path: str | pathlib.Path) -> None:
        self.path = pathlib.Path(path)

    def append(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict]:
        """Every complete record: a line cut short by a crash, or otherwise not a JSON object in UTF-8 (a
        damaged byte), is skipped, so it never blocks a resume (which rewrites the file without it)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_bytes().splitlines():
            try:
                rec = json.loads(line.decode("utf-8"))
            except ValueError:                                  # UnicodeDecodeError is a ValueError too
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a resume starts from), atomically."""
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))


def plot_losses(records: list[dict], path: str | pathlib.Path, title: str = "",
                train_key: str = "train_loss", val_key: str = "val_loss", ylabel: str = "loss") -> None:
    """Train and validation curves against the step, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    for key, label in ((train_key, "train"), (val_key, "validation")):
        pts = [(r["step"], r[key]) for r in records if r.get(key) is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=label, marker="o" if key == val_key else None, markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
