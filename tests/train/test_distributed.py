"""Training under torchrun (torch.distributed, gloo on CPU): 2 processes equal 1 process with the same
global batch step by step, rank 0 alone writes, a kill -9 of one rank resumes exactly, bad setups are said
in one line."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from lstmkit.train.distributed import DistributedSetupError, Shard, init_from_env

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="torchrun's gloo rendezvous on "
                                "localhost and /proc (to find a rank to kill) are what these tests use: Linux only")

#: a tiny character model whose decay does not depend on --max-steps (so a resumed run may change it)
TINY = ["--hidden", "16", "--embed", "8", "--layers", "1", "--batch-size", "4", "--seq-len", "16",
        "--eval-every", "20", "--log-every", "1", "--eval-chars", "300", "--sample-chars", "0",
        "--warmup-steps", "5", "--decay-steps", "200", "--backend", "reference"]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "LSTMKIT_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torchrun(*args: str, nproc: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "lstmkit", *args]


def metrics(run: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def losses(run: pathlib.Path) -> dict[int, tuple]:
    return {r["step"]: (r.get("train_loss"), r.get("val_loss")) for r in metrics(run)}


def assert_same_losses(got: pathlib.Path, want: pathlib.Path, upto: int) -> None:
    a, b = losses(got), losses(want)
    assert sorted(a) == sorted(b) and max(a) == upto, (sorted(a), sorted(b))
    for step in b:
        for x, y in zip(a[step], b[step]):
            assert (x is None) == (y is None), (step, a[step], b[step])
            if x is not None:
                assert x == pytest.approx(y, abs=2e-5), (step, a[step], b[step])


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> pathlib.Path:
    """The 1-process run of 60 steps (in a subprocess, like the others)."""
    run = tmp_path_factory.mktemp("one") / "run"
    subprocess.run([sys.executable, "-m", "lstmkit", "train", "charlm", *TINY, "--max-steps", "60", "--out", str(run)],
                   check=True, env=_env(), capture_output=True, timeout=300)
    return run


def test_two_processes_equal_one_process(reference, tmp_path):
    run = tmp_path / "run"
    out = subprocess.run(torchrun("train", "charlm", *TINY, "--max-steps", "60", "--out", str(run)), env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert_same_losses(run, reference, 60)
    assert out.stdout.count("stopped at step 60") == 1                # rank 0 alone reports
    state = json.loads((run / "checkpoints" / "last.json").read_text())
    assert state["step"] == 60
    import torch
    from lstmkit.train import load_checkpoint
    ck = load_checkpoint(run / "checkpoints", "last")["state"]
    assert ck["world"] == 2 and len(ck["ranks"]) == 2                 # each rank's own streams' state
    carried = [r["task_state"]["carried"] for r in ck["ranks"]]
    assert not torch.equal(carried[0][0], carried[1][0])              # their own streams' carried state


def _children(pid: int) -> list[int]:
    kids = []
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def test_kill_one_rank_then_resume_is_exact(reference, tmp_path):
    run = tmp_path / "run"
    # a long run (its decay is fixed by --decay-steps): kill -9 one rank once 'last' holds step >= 20
    proc = subprocess.Popen(torchrun("train", "charlm", *TINY, "--checkpoint-every", "10", "--max-steps", "100000",
                                     "--out", str(run)), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        last = run / "checkpoints" / "last.json"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if last.exists() and json.loads(last.read_text())["step"] >= 20:
                break
            assert proc.poll() is None, "the 2-process run ended before it could be killed"
            time.sleep(0.01)
        ranks = _children(proc.pid)
        assert len(ranks) == 2, ranks
        os.kill(ranks[1], signal.SIGKILL)
        proc.wait(timeout=120)                                         # torchrun stops the other rank
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = json.loads(last.read_text())["step"]
    assert proc.returncode != 0 and 20 <= killed_at < 60, (proc.returncode, killed_at)
    out = subprocess.run(torchrun("train", "charlm", "--resume", str(run), "--max-steps", "60"), env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert_same_losses(run, reference, 60)


def test_resume_with_another_world_size_is_refused(reference, tmp_path):
    import shutil
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    out = subprocess.run(torchrun("train", "charlm", "--resume", str(run), "--max-steps", "80"), env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "trained by 1 process(es)" in out.stderr and "expected 1 process(es) again, got 2" in out.stderr


def test_world_size_not_dividing_the_batch(tmp_path):
    args = [a if a != "4" else "5" for a in TINY]                     # --batch-size 5 for 2 processes
    out = subprocess.run(torchrun("train", "charlm", *args, "--max-steps", "2", "--out", str(tmp_path / "run")),
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "--batch-size 5 is the global batch, which 2 processes share equally; expected a multiple of the " \
           "world size 2" in out.stderr
    assert not (tmp_path / "run").exists()                            # refused before any folder


def test_missing_rendezvous_variable(tmp_path):
    env = {k: v for k, v in _env().items() if k not in ("MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")}
    out = subprocess.run([sys.executable, "-m", "lstmkit", "train", "charlm", *TINY, "--max-steps", "2",
                          "--out", str(tmp_path / "run")], env={**env, "RANK": "0", "WORLD_SIZE": "2"},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert "expected the rendezvous variables" in last and "missing LOCAL_RANK, MASTER_ADDR, MASTER_PORT" in last


def test_shard_parts_cover_the_batch():
    for world in (1, 2, 3, 4):
        for n in range(world, 13):
            parts = [Shard(rank=r, world=world).part(n) for r in range(world)]
            assert [i for p in parts for i in range(n)[p]] == list(range(n))
            assert all(p.stop > p.start for p in parts)
    with pytest.raises(DistributedSetupError, match="at least one item per process"):
        Shard(rank=0, world=4).part(3)
    with pytest.raises(DistributedSetupError, match="expected a multiple of the world size 3"):
        Shard(rank=0, world=3).check_batch(32)


def test_one_process_without_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert init_from_env() == Shard()
    monkeypatch.setenv("RANK", "x")
    for name in ("WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(name, "1")
    with pytest.raises(DistributedSetupError, match=r"RANK='x': expected an integer"):
        init_from_env()


@pytest.mark.parametrize("job, args", [
    # bucketed batches (an epoch's last one shorter), an auxiliary head DDP must allow to go unused
    ("tagger", ["--hidden", "8", "--batch-size", "4", "--dropout", "0"]),
    # a loss averaged over target tokens while the batch counts pairs: the ranks weighted by their tokens
    ("translate", ["--hidden", "8", "--embed", "8", "--decoder-hidden", "16", "--batch-size", "4", "--dropout", "0",
                   "--max-number", "3000", "--val-size", "40", "--test-size", "40"]),
    # class weights: the ranks weighted by their share of the weighted mean's denominator
    ("classify", ["--hidden", "8", "--batch-size", "4", "--dropout", "0", "--word-dropout", "0",
                  "--class-weights"]),
])
def test_other_jobs_two_processes_equal_one(job, args, tmp_path):
    common = ["train", job, *args, "--max-steps", "6", "--log-every", "1", "--eval-every", "3", "--backend", "reference"]
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "lstmkit", *common, "--out", str(one)], check=True, env=_env(),
                   capture_output=True, timeout=300)
    out = subprocess.run(torchrun(*common, "--out", str(two)), env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert_same_losses(two, one, 6)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_layers_under_fsdp(backend):
    """FSDP2 frees a layer's gathered weights after use (resizing their storage to 0): the compiled CPU
    kernels must not pin them (numpy views of weights go through DLPack)."""
    script = pathlib.Path(__file__).with_name("fsdp_run.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), backend]
    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import re
    diff, moved = map(float, re.search(r"FSDP - one process\| (\S+); max \|trained - initial\| (\S+)", out.stdout).groups())
    assert moved > 1e-3 and diff < 1e-5, out.stdout
