"""The shared training loop on a toy job: it learns, writes a complete run folder, resumes exactly after
Ctrl-C, stops on budgets and early stopping, and refuses a resume with another config."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch

from lstmkit.errors import DivergedError, RunInUseError
from lstmkit.tasks.runs import fit_run
from lstmkit.train import CheckpointError, RunDir, RunError, Trainer, load_checkpoint
from lstmkit.train.config import config_from_dict, config_to_dict
from lstmkit.train.metrics import MetricsLog
from lstmkit.train.progress import BarProgress, Progress, make_progress
from toy_task import ToyConfig, ToyTask, deterministic


def _fit(cfg, path, resume=False):
    run = RunDir.open(path) if resume else RunDir.create(path, cfg)
    out = io.StringIO()
    return Trainer(ToyTask(cfg), run, resume=resume, stream=out).fit(), out.getvalue(), run


CFG = dict(max_steps=60, lr=0.02, warmup_steps=5, eval_every=20, log_every=5)


def test_training_lowers_loss_and_writes_a_complete_run(tmp_path):
    result, out, run = _fit(ToyConfig(**CFG), tmp_path / "run")
    assert result.stopped_by == "max_steps" and result.step == 60 and result.best_step in (20, 40, 60)
    recs = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in recs] == list(range(5, 61, 5))
    assert recs[-1]["train_loss"] < recs[0]["train_loss"] / 3
    assert [r["step"] for r in recs if "val_loss" in r] == [20, 40, 60]
    assert {"lr", "samples_per_s", "elapsed"} <= set(recs[0])
    assert run.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in run.samples.iterdir()) == ["step-20.txt", "step-40.txt", "step-60.txt"]
    last = load_checkpoint(run.checkpoints, "last")["state"]
    assert last["step"] == 60 and last["meta"] == {"inputs": 4} and last["task_state"]["seen"] == 480
    assert {"model", "optimizer", "rng", "engine", "config"} <= set(last)
    assert load_checkpoint(run.checkpoints, "best")["state"]["step"] == result.best_step
    assert "step 60/60 | loss" in out and "stopped at step 60: reached --max-steps 60" in out


def test_seed_makes_runs_identical_and_another_seed_differs(tmp_path):
    a = _fit(ToyConfig(**CFG), tmp_path / "a")[2]
    b = _fit(ToyConfig(**CFG), tmp_path / "b")[2]
    c = _fit(ToyConfig(**CFG, seed=1), tmp_path / "c")[2]
    assert _records(a) == _records(b) and _records(a) != _records(c)


def _records(run):
    return deterministic(MetricsLog(run.metrics_path).read())


@pytest.mark.parametrize("stop_at", [17, 20])            # mid log-window, and on an evaluation step
def test_ctrl_c_saves_and_resume_is_step_for_step_identical(tmp_path, stop_at):
    _, _, full = _fit(ToyConfig(**CFG), tmp_path / "full")
    result, out, run = _fit(ToyConfig(**CFG, interrupt_at=stop_at), tmp_path / "cut")
    assert result.stopped_by == "interrupted" and result.step == stop_at
    assert "interrupted (SIGINT)" in out and f"--resume {run.path}" in out
    assert load_checkpoint(run.checkpoints, "last")["step"] == stop_at
    cfg = ToyConfig(**CFG, interrupt_at=stop_at)        # same config; the resumed pass does not interrupt
    resumed = Trainer(_NoInterrupt(cfg), RunDir.open(run.path), resume=True, stream=io.StringIO()).fit()
    assert resumed.stopped_by == "max_steps" and resumed.step == 60
    assert _records(run) == _records(full)
    a = load_checkpoint(full.checkpoints, "last")["state"]["model"]
    b = load_checkpoint(run.checkpoints, "last")["state"]["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


class _NoInterrupt(ToyTask):
    def train_step(self, model, step):
        saved, self.config.interrupt_at = self.config.interrupt_at, 0
        try:
            return super().train_step(model, step)
        finally:
            self.config.interrupt_at = saved


def test_resume_refuses_a_different_config_and_lists_differences(tmp_path):
    _, _, run = _fit(ToyConfig(**{**CFG, "max_steps": 20}), tmp_path / "run")
    cfg = ToyConfig(**{**CFG, "max_steps": 20, "lr": 0.5, "seed": 3})
    before = run.checkpoints.joinpath("last.json").read_bytes()
    expected = r"different config.*: seed: 0 in the run, 3 now; lr: 0.02 in the run, 0.5 now"
    with pytest.raises(RunError, match=expected):
        Trainer(ToyTask(cfg), RunDir.open(run.path), resume=True).fit()
    assert run.checkpoints.joinpath("last.json").read_bytes() == before


def test_resume_may_change_control_settings_and_a_finished_run_has_nothing_to_do(tmp_path):
    _, _, run = _fit(ToyConfig(**{**CFG, "max_steps": 20}), tmp_path / "run")
    result, _, _ = _fit(ToyConfig(**{**CFG, "max_steps": 20, "max_time": 999.0}), run.path, resume=True)
    assert result.stopped_by == "done" and result.step == 20
    assert '"max_time": 999.0' in run.config_path.read_text()


def test_resume_of_a_corrupt_checkpoint_fails_and_overwrites_nothing(tmp_path):
    _, _, run = _fit(ToyConfig(**{**CFG, "max_steps": 20}), tmp_path / "run")
    tfile = next(run.checkpoints.glob("last-*.safetensors"))
    tfile.write_bytes(tfile.read_bytes()[:100])
    snapshot = {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Trainer(ToyTask(ToyConfig(**{**CFG, "max_steps": 20})), RunDir.open(run.path), resume=True).fit()
    assert {p: p.read_bytes() for p in run.path.rglob("*") if p.is_file()} == snapshot


def test_a_run_that_failed_before_its_first_checkpoint_starts_afresh(tmp_path):
    """A folder with only a run's files and no checkpoint (the run died or failed early) is resumable from
    step 0 and reusable by --out; a run with a checkpoint, or a folder with other files, is not."""
    run = RunDir.create(tmp_path / "fresh", ToyConfig(**CFG))
    run.metrics_path.write_text('{"step": 5, "train_loss": 1.0}\n')         # died between log and checkpoint
    result = Trainer(ToyTask(ToyConfig(**{**CFG, "max_steps": 10})), RunDir.open(run.path), resume=True,
                     stream=io.StringIO()).fit()
    assert result.step == 10 and [r["step"] for r in MetricsLog(run.metrics_path).read()] == [5, 10]
    assert RunDir.open(run.path).config(ToyConfig).max_steps == 10
    dead = RunDir.create(tmp_path / "dead", ToyConfig(**CFG))
    again = RunDir.create(dead.path, ToyConfig(**{**CFG, "lr": 0.5}))             # --out reuses it
    assert again.config(ToyConfig).lr == 0.5
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunError, match=r"is not an lstmkit run: expected .*config.json"):
        RunDir.open(tmp_path / "plain")
    with pytest.raises(RunError, match="is a run; expected a new or empty folder"):
        RunDir.create(run.path, ToyConfig())                                     # it has checkpoints now
    (dead.path / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="is a run; expected a new or empty folder"):
        RunDir.create(dead.path, ToyConfig())                                    # never touches user files
    (dead.path / "notes.txt").unlink()
    shutil.rmtree(run.checkpoints)
    run.checkpoints.mkdir()
    (run.checkpoints / "last.json").write_text("{}")
    with pytest.raises(CheckpointError):                                         # a broken one is not "none"
        Trainer(ToyTask(ToyConfig(**{**CFG, "max_steps": 10})), RunDir.open(run.path), resume=True).fit()


def test_one_process_at_a_time_in_a_run_folder(tmp_path):
    run = RunDir.create(tmp_path / "run", ToyConfig(**CFG))
    with run.locked():
        with pytest.raises(RunInUseError, match=f"{run.path} is in use by another lstmkit process \\(pid "
                                                 f"{os.getpid()}\\)"):
            with RunDir.open(run.path).locked():
                pass
    with RunDir.open(run.path).locked():                                         # released: free again
        pass
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from lstmkit.train import RunDir\n"
                               f"with RunDir({str(run.path)!r}).locked():\n    print('held', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            fit_run(ToyTask(ToyConfig(**CFG)), resume=run.path, stream=io.StringIO())
    finally:
        holder.kill()
        holder.wait()
    result, _ = fit_run(ToyTask(ToyConfig(**{**CFG, "max_steps": 5})), resume=run.path, stream=io.StringIO())
    assert result.step == 5                                                      # kill -9 freed the lock


def test_max_time_stops_evaluates_and_a_resume_with_more_time_continues_exactly(tmp_path):
    cfg = {**CFG, "max_steps": 150, "eval_every": 25, "log_every": 3, "step_sleep": 0.004}
    _, _, full = _fit(ToyConfig(**cfg), tmp_path / "full")
    result, out, run = _fit(ToyConfig(**{**cfg, "max_time": 0.3}), tmp_path / "t")
    assert result.stopped_by == "max_time" and 0 < result.step < 150 and "--max-time" in out
    final = MetricsLog(run.metrics_path).read()[-1]
    if result.step % 25:
        assert final["final"] is True and final["step"] == result.step and "val_loss" in final
    resumed, _, _ = _fit(ToyConfig(**{**cfg, "max_time": 999.0}), run.path, resume=True)
    assert resumed.stopped_by == "max_steps" and resumed.step == 150
    assert [r for r in _records(run) if not r.get("final")] == _records(full)


def test_early_stopping(tmp_path):
    cfg = ToyConfig(**{**CFG, "max_steps": 10**4, "eval_every": 1, "patience": 2, "lr": 1e-9, "warmup_steps": 0})
    result, out, _ = _fit(cfg, tmp_path / "e")
    assert result.stopped_by == "early_stopping" and result.step < 50
    assert "no improvement of val_loss in 2 evaluations" in out


def test_non_finite_loss_stops_with_a_clear_error_and_last_stays_finite(tmp_path):
    cfg = ToyConfig(**{**CFG, "eval_every": 2, "log_every": 1})
    with pytest.raises(DivergedError, match="the training loss became nan at step 3: the run diverged; its last "
                                            "checkpoint \\(step 2\\) is the last finite state"):
        _fit(ToyConfig(**{**config_to_dict(cfg), "nan_at": 3}), tmp_path / "nan")
    state = load_checkpoint(tmp_path / "nan" / "checkpoints", "last")
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["state"]["model"].values())
    with pytest.raises(FloatingPointError):                          # what code catching the old type sees
        _fit(ToyConfig(**CFG, nan_at=1), tmp_path / "nan1")


@pytest.mark.parametrize("key,value,message", [("lr", float("inf"), "lr must be a finite number, got inf"),
                                               ("grad_clip", float("nan"), "grad_clip must be a finite number"),
                                               ("min_lr", 2.0, "min_lr is the final rate as a fraction of --lr"),
                                               ("device", "banana", "device must be a torch device such as cpu"),
                                               ("device", "cuda:7", "device 'cuda:7'")])
def test_settings_that_cannot_train_are_refused_up_front(key, value, message):
    if key == "device" and value.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 CUDA devices")
    with pytest.raises(ValueError, match=re.escape(message)):
        config_from_dict(ToyConfig, {**CFG, key: value})


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert type(make_progress(10, 0, "chars", io.StringIO())) is Progress
    bar = make_progress(10, 0, "chars", Tty())
    assert isinstance(bar, BarProgress)
    bar.step(3)
    bar.record({"step": 3, "train_loss": 1.5, "val_loss": 1.7, "chars_per_s": 1234.0})
    bar.close()
    text = bar.stream.getvalue()
    assert "3/10" in text and "loss=1.500" in text and "val=1.700" in text and "chars/s=1,234" in text
    timed = make_progress(10**6, 0, "chars", Tty(), max_time=60.0)              # a time budget: bar over seconds
    timed.step(40, elapsed=30.0)
    timed.close()
    assert "30/60s" in timed.stream.getvalue() and "step=40" in timed.stream.getvalue()


def test_tensorboard_missing_gives_the_install_command(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("torch.utils.tensorboard"):
            raise ModuleNotFoundError("No module named 'tensorboard'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    expected = r"--tensorboard needs the tensorboard package.*pip install 'lstmkit\[tensorboard\]'"
    with pytest.raises(ImportError, match=expected):
        Trainer(ToyTask(ToyConfig(tensorboard=True)), RunDir.create(tmp_path / "tb", ToyConfig()))


def test_tensorboard_writes_scalars_when_installed(tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is an optional extra: pip install 'lstmkit[tensorboard]'")
    _, _, run = _fit(ToyConfig(**{**CFG, "max_steps": 10, "tensorboard": True}), tmp_path / "tb")
    assert list(run.tensorboard.glob("events.out.tfevents.*"))


# ------------------------------------------------------------------------------------ weight averaging
def test_ema_evaluates_and_saves_the_averaged_weights_without_changing_training(tmp_path):
    plain = _fit(ToyConfig(**CFG), tmp_path / "plain")[2]
    _, _, run = _fit(ToyConfig(**CFG, ema=0.9), tmp_path / "ema")
    train = lambda recs: [{k: v for k, v in r.items() if k != "val_loss"} for r in recs]   # noqa: E731
    assert train(_records(run)) == train(_records(plain))         # the optimised weights are untouched
    vals = [r["val_loss"] for r in _records(run) if "val_loss" in r]
    assert vals != [r["val_loss"] for r in _records(plain) if "val_loss" in r]
    last = load_checkpoint(run.checkpoints, "last")["state"]
    avg = last["ema"]["weights"]
    assert last["ema"]["updates"] == 60 and set(avg) == set(last["model"])
    assert any(not torch.equal(avg[k], last["model"][k]) for k in avg)
    model = ToyTask(ToyConfig(**CFG)).build_model()
    model.load_state_dict(avg)
    model.eval()
    with torch.no_grad():                                          # the step-60 evaluation used the average
        assert ToyTask(ToyConfig(**CFG)).evaluate(model)["val_loss"] == pytest.approx(vals[-1], rel=1e-6)
    best = load_checkpoint(run.checkpoints, "best")["state"]
    if best["step"] == 60:
        assert all(torch.equal(best["model"][k], avg[k]) for k in avg)


def test_ema_resumes_exactly_after_ctrl_c(tmp_path):
    _, _, full = _fit(ToyConfig(**CFG, ema=0.95), tmp_path / "full")
    cfg = ToyConfig(**CFG, ema=0.95, interrupt_at=27)
    _fit(cfg, tmp_path / "cut")
    Trainer(_NoInterrupt(cfg), RunDir.open(tmp_path / "cut"), resume=True, stream=io.StringIO()).fit()
    assert _records(RunDir.open(tmp_path / "cut")) == _records(full)
    a = load_checkpoint(full.checkpoints, "last")["state"]["ema"]
    b = load_checkpoint(tmp_path / "cut" / "checkpoints", "last")["state"]["ema"]
    assert a["updates"] == b["updates"] == 60
    assert all(torch.equal(a["weights"][k], b["weights"][k]) for k in a["weights"])


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_ema_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match=r"ema must be in \[0, 1\).*got"):
        ToyConfig(ema=bad).validate()
