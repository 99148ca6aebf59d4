"""Exact resume of a charlm run killed with SIGKILL mid-run in a subprocess: the resumed run's metrics equal,
step for step, those of a run that never stopped, and its final weights are bitwise equal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch

from lstmkit.train import load_checkpoint
from charlm_helpers import TINY, write_text

TIMING = ("elapsed", "chars_per_s")
#: one thread in every process: same arithmetic in each, and no stalls when xdist workers share 2 cores
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _lstmkit(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "lstmkit", *args], env=ENV, **kw)


def _metrics(run):
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in recs]


def _last_step(run) -> int:
    try:
        return json.loads((run / "checkpoints" / "last.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return -1


def test_kill_9_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path):
    text = write_text(tmp_path / "t.txt", 6000)
    steps = 60
    args = ["--text", str(text), "--max-steps", str(steps), "--eval-every", "10", "--checkpoint-every", "3",
            "--dropout", "0.2", "--layers", "2", *TINY]
    full = _lstmkit("train", "charlm", "--out", str(tmp_path / "full"), *args, stdout=subprocess.DEVNULL)

    cut = tmp_path / "cut"
    proc = _lstmkit("train", "charlm", "--out", str(cut), *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _last_step(cut) < 12 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    killed_at = _last_step(cut)
    assert 12 <= killed_at < steps
    resumed = _lstmkit("train", "charlm", "--resume", str(cut), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    out, err = resumed.communicate()
    assert resumed.returncode == 0, err
    assert f"stopped at step {steps}" in out
    assert full.wait() == 0

    assert _metrics(cut) == _metrics(tmp_path / "full")
    a = load_checkpoint(tmp_path / "full" / "checkpoints", "last")["state"]
    b = load_checkpoint(cut / "checkpoints", "last")["state"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert sorted(p.name for p in (cut / "samples").iterdir()) == sorted(
        p.name for p in (tmp_path / "full" / "samples").iterdir())
