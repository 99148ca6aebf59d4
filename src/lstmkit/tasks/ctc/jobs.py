"""What the CTC commands do, callable from Python: train (or resume) a run, load its model, score lines."""

from __future__ import annotations

import pathlib
import sys
from typing import IO, Optional

from ...train import CheckpointError, RunDir, TrainResult
from ...train.atomic import write_json
from ..runs import fit_run, open_checkpoint
from .config import CTCConfig
from .lines import Lines
from .model import CTCModel
from .task import FEATURES, N_LABELS, CTCTask, score_lines

__all__ = ["train", "resume", "load_model", "test_report"]


def train(cfg: CTCConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/ctc-<timestamp>``), then score the test lines with the
    best checkpoint into ``RUN_DIR/test.json``. The data is built before the folder is made.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.ctc import CTCConfig, train
        >>> cfg = CTCConfig(max_steps=3, hidden=8, layers=1, batch_size=4, val_lines=8, test_lines=8,
        ...                 eval_every=3, beam=2)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        3
    """
    task = CTCTask(cfg)
    return fit_run(task, out, stream=stream, then=_final_test)[0]


def resume(run_path: str | pathlib.Path, cfg: CTCConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint (``max_time`` and ``test_lines`` may change)."""
    task = CTCTask(cfg)
    return fit_run(task, resume=run_path, stream=stream, then=_final_test)[0]


def test_report(model: CTCModel, lines: Lines, beam: int) -> dict:
    """Loss, greedy and beam-search CER and line accuracy on ``lines``, with a few examples."""
    res = score_lines(model, lines, beam=beam)
    examples = [{"reference": r, "greedy": g, "beam": b}
                for r, g, b in list(zip(res["references"], res["greedy"], res["beam"]))[:10]]
    return {"lines": len(lines), "loss": res["loss"], "cer_greedy": res["cer_greedy"], "cer_beam": res["cer_beam"],
            "line_accuracy_greedy": res["line_accuracy_greedy"], "line_accuracy_beam": res["line_accuracy_beam"],
            "beam": beam, "examples": examples}


def _final_test(task: CTCTask, run: RunDir, cfg: CTCConfig, stream: Optional[IO]) -> None:
    if not cfg.test_lines:
        return
    model, which = load_model(run.path)
    report = {"checkpoint": which, **test_report(model, task.held_out("test", cfg.test_lines), cfg.beam)}
    write_json(run.path / "test.json", report)
    print(f"test ({cfg.test_lines} lines of unseen digit images, {which} checkpoint): CER greedy "
          f"{report['cer_greedy']:.4f}, beam {cfg.beam} {report['cer_beam']:.4f}; lines read exactly "
          f"{report['line_accuracy_beam']:.3f}; wrote {run.path / 'test.json'}", file=stream or sys.stdout)


def load_model(run_path: str | pathlib.Path, checkpoint: str = "auto", device: str = "cpu") -> tuple[CTCModel, str]:
    """``(model in eval mode, checkpoint name)`` of a ctc run; ``checkpoint``: best, last or auto."""
    cfg, state, checkpoint = open_checkpoint(run_path, CTCConfig, checkpoint)
    try:
        model = CTCModel(FEATURES, N_LABELS, cfg)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's "
                              f"config.json: {str(e).splitlines()[0]}") from None
    return model.to(device).eval(), checkpoint
