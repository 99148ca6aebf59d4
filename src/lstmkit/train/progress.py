"""Showing progress: a tqdm bar on a terminal, plain periodic lines otherwise; TensorBoard scalars on demand."""

from __future__ import annotations

import sys
import time
from typing import IO, Optional

__all__ = ["Progress", "make_progress", "TensorBoard", "format_record"]


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_record(rec: dict, max_steps: int, unit: str) -> str:
    """One plain progress line from a metrics record.

    Example::

        >>> from lstmkit.train.progress import format_record
        >>> format_record({"step": 200, "train_loss": 1.7321, "val_loss": 1.8, "chars_per_s": 5432.1,
        ...                "lr": 0.002, "elapsed": 62, "eta": 750}, 5000, "chars")
        'step 200/5000 | loss 1.7321 | val 1.8000 | 5,432 chars/s | lr 2.00e-03 | 1:02 elapsed, eta 12:30'
    """
    parts = [f"step {rec['step']}/{max_steps}"]
    if rec.get("train_loss") is not None:
        parts.append(f"loss {rec['train_loss']:.4f}")
    if rec.get("val_loss") is not None:
        parts.append(f"val {rec['val_loss']:.4f}")
    if rec.get(f"{unit}_per_s") is not None:
        parts.append(f"{rec[f'{unit}_per_s']:,.0f} {unit}/s")
    if rec.get("lr") is not None:
        parts.append(f"lr {rec['lr']:.2e}")
    clock = f"{_clock(rec.get('elapsed', 0))} elapsed"
    if rec.get("eta") is not None:
        clock += f", eta {_clock(rec['eta'])}"
    parts.append(clock)
    return " | ".join(parts)


class Progress:
    """Plain lines: one per logged record, on ``stream`` (stdout when it is not a terminal).

    Example::

        >>> from lstmkit.train.progress import Progress
        >>> Progress(max_steps=10, start_step=0, unit="chars").record({"step": 5, "train_loss": 2.0, "elapsed": 3})
        step 5/10 | loss 2.0000 | 0:03 elapsed
    """

    def __init__(self, max_steps: int, start_step: int, unit: str, stream: Optional[IO] = None,
                 max_time: float = 0.0, start_time: float = 0.0) -> None:
        self.max_steps, self.unit = max_steps, unit
        self.stream = stream or sys.stdout

    def step(self, step: int, elapsed: float = 0.0) -> None:
        """Called after every optimisation step."""

    def record(self, rec: dict) -> None:
        """Called with each metrics record (every ``log_every`` steps and at evaluations)."""
        self.message(format_record(rec, self.max_steps, self.unit))

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass


class BarProgress(Progress):
    """A tqdm bar with loss, val loss, throughput and ETA; messages print above it. With a time budget
    (``max_time``) the bar runs over the budget's seconds, so its ETA is the budget's end (or the step
    limit's, when that comes first: see the ``eta`` field).

    Example::

        >>> import io
        >>> from lstmkit.train.progress import BarProgress
        >>> bar = BarProgress(max_steps=10, start_step=0, unit="chars", stream=io.StringIO())
        >>> bar.step(4); bar.record({"step": 4, "train_loss": 1.5}); bar.close()
        >>> "4/10" in bar.stream.getvalue() and "loss=1.500" in bar.stream.getvalue()
        True
    """

    def __init__(self, max_steps: int, start_step: int, unit: str, stream: Optional[IO] = None,
                 max_time: float = 0.0, start_time: float = 0.0) -> None:
        super().__init__(max_steps, start_step, unit, stream)
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self.by_time = max_time > 0
        if self.by_time:
            self.bar = tqdm(total=round(max_time), initial=round(start_time), unit="s", file=self.stream,
                            dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt}s [{elapsed}<{remaining}"
                                                           "{postfix}]")
        else:
            self.bar = tqdm(total=max_steps, initial=start_step, unit="step", file=self.stream,
                            dynamic_ncols=True, smoothing=0.1)
        self.postfix: dict[str, str] = {}

    def step(self, step: int, elapsed: float = 0.0) -> None:
        if self.by_time:
            self.bar.n = min(elapsed, self.bar.total)
            self.postfix["step"] = str(step)
            self.bar.set_postfix(self.postfix, refresh=False)
            self.bar.refresh()
        else:
            self.bar.update(step - self.bar.n)

    def record(self, rec: dict) -> None:
        if rec.get("train_loss") is not None:
            self.postfix["loss"] = f"{rec['train_loss']:.3f}"
        if rec.get("val_loss") is not None:
            self.postfix["val"] = f"{rec['val_loss']:.3f}"
        if rec.get(f"{self.unit}_per_s") is not None:
            self.postfix[f"{self.unit}/s"] = f"{rec[f'{self.unit}_per_s']:,.0f}"
        self.bar.set_postfix(self.postfix, refresh=True)

    def message(self, text: str) -> None:
        self._tqdm.write(text, file=self.stream)

    def close(self) -> None:
        self.bar.close()


def make_progress(max_steps: int, start_step: int, unit: str, stream: Optional[IO] = None,
                  max_time: float = 0.0, start_time: float = 0.0) -> Progress:
    """A tqdm bar when ``stream`` (default stdout) is a terminal, plain lines otherwise."""
    stream = stream or sys.stdout
    cls = BarProgress if getattr(stream, "isatty", lambda: False)() else Progress
    return cls(max_steps, start_step, unit, stream, max_time, start_time)


class TensorBoard:
    """Scalars for TensorBoard under ``folder``; a clear error when the package is missing.

    Example::

        >>> from lstmkit.train.progress import TensorBoard
        >>> try:
        ...     TensorBoard.check()              # passes when tensorboard is installed
        ... except ImportError as e:
        ...     assert "pip install 'lstmkit[tensorboard]'" in str(e)
    """

    INSTALL = "pip install 'lstmkit[tensorboard]'  (or: pip install tensorboard)"

    @classmethod
    def check(cls) -> None:
        """Raise ImportError with the install command when tensorboard is not installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError as e:
            raise ImportError(f"--tensorboard needs the tensorboard package, which is not installed "
                               f"({e}); install it with: {cls.INSTALL}") from None

    def __init__(self, folder) -> None:
        self.check()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))
        self.t0 = time.time()

    def record(self, rec: dict) -> None:
        for k, v in rec.items():
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(k, v, rec["step"])
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
