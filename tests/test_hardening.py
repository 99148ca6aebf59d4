"""An adversarial trial of the command line, kept as a test: bad settings, bad files, contradictory
options, divergence, interrupted imports. Each case must end in one line on stderr and exit status 2
(130 for Ctrl-C), leave no run folder behind when it fails before training, and never show a traceback.
The layer API's and the writer's cases live beside their modules (tests/layers/test_errors.py,
tests/train/test_atomic.py, tests/train/test_loop.py)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from charlm_helpers import TINY, write_text

TRAIN = ["train", "charlm", "--max-steps", "4", "--eval-every", "2", *TINY]


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, fragment, status=2):
    assert code == status, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert fragment in err, err


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return write_text(tmp_path_factory.mktemp("text") / "t.txt", 3000)


BAD_SETTINGS = [
    (["--device", "banana"], "device must be a torch device such as cpu, cuda or cuda:1, got 'banana'"),
    (["--lr", "inf"], "lr must be a finite number, got inf"),
    (["--forget-bias", "nan"], "forget_bias must be a finite number, got nan"),
    (["--min-lr", "2"], "min_lr is the final rate as a fraction of --lr"),
    (["--hidden", "16", "--proj-size", "16"], "proj_size has to be smaller than hidden_size (16), got 16"),
    (["--backend", "fast"], "backend must be 'auto' or one of"),
]


@pytest.mark.parametrize("flags,message", BAD_SETTINGS, ids=[f[0] for f, _ in BAD_SETTINGS])
def test_settings_that_cannot_train_fail_before_a_folder_exists(tmp_path, capsys, text, flags, message):
    out = tmp_path / "run"
    code, _, err = run_cli([*TRAIN, "--text", text, "--out", out, *flags], capsys)
    assert_one_line_error(code, err, message)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(tmp_path, capsys, text):
    code, _, err = run_cli([*TRAIN, "--text", text, "--out", tmp_path / "r", "--device", "cuda"], capsys)
    assert_one_line_error(code, err, "asked for CUDA, which is not available here")


def test_divergence_is_one_line_and_last_stays_finite(tmp_path, capsys, text):
    out = tmp_path / "run"
    code, _, err = run_cli([*TRAIN, "--text", text, "--out", out, "--lr", "1e6", "--grad-clip", "0",
                            "--max-steps", "40", "--eval-every", "2", "--warmup-steps", "0"], capsys)
    assert_one_line_error(code, err, "the run diverged")
    from lstmkit.train import load_checkpoint
    if (out / "checkpoints" / "last.json").exists():
        state = load_checkpoint(out / "checkpoints", "last")["state"]
        assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_sample_and_demo_refuse_nonsense(tmp_path, capsys, text):
    run = tmp_path / "run"
    assert main([*map(str, [*TRAIN, "--text", text, "--out", run])]) == 0
    capsys.readouterr()
    for bad in ("nan", "inf", "-1"):
        code, _, err = run_cli(["sample", run, "--temperature", bad], capsys)
        assert_one_line_error(code, err, "temperature must be a finite number >= 0")
    for flags, message in ((["--gap-min", "30", "--gap-max", "5"], "0 <= --gap-min <= --gap-max"),
                           (["--gap-min", "-3"], "0 <= --gap-min <= --gap-max"),
                           (["--steps", "-5"], "steps must be >= 1, got -5")):
        code, _, err = run_cli(["demo", *flags], capsys)
        assert_one_line_error(code, err, message)
    code, _, err = run_cli(["longlag", "2a", "--clip", "-1"], capsys)
    assert_one_line_error(code, err, "clip must be a finite number >= 0")


def test_contradictory_or_meaningless_data_options(tmp_path, capsys):
    csv = tmp_path / "s.csv"
    csv.write_text("label,a,b\nx,1,2\ny,3,4\nx,5,6\ny,7,8\n")
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1]))
    cases = [
        (["train", "classify", "--data", csv, "--labels", tmp_path / "y.npy"], "labels a .npy --data"),
        (["train", "classify", "--data", csv, "--dev", csv, "--dev-fraction", "0.3"], "has no effect with --dev"),
        (["train", "forecast", "--csv", csv, "--target", "a", "--dataset", "sunspots"], "has no effect with --csv"),
    ]
    one = tmp_path / "one.csv"
    one.write_text("label,a\nx,1\nx,2\nx,3\nx,4\n")
    cases.append((["train", "classify", "--data", one], "every sequence has the label 'x'"))
    extra = tmp_path / "extra.csv"
    extra.write_text("label,a\nx,1\ny,2,3\n")
    cases.append((["train", "classify", "--data", extra], f"{extra}:3: 3 fields, expected 2"))
    quote = tmp_path / "quote.csv"
    quote.write_text('label,text\nx,"fine"\ny,"never closed\nx,more\n')
    cases.append((["train", "classify", "--data", quote], f"{quote}, line 3: a quoted field opens here"))
    (tmp_path / "labels.txt").write_text("0\n1\n")
    np.save(tmp_path / "x.npy", np.zeros((2, 5), dtype=np.float32))
    cases.append((["train", "classify", "--data", tmp_path / "x.npy", "--labels", tmp_path / "labels.txt"],
                  f"--labels {tmp_path / 'labels.txt'}: expected a .npy array file"))
    for argv, message in cases:
        out = tmp_path / "run"
        code, _, err = run_cli([*argv, "--out", out, "--max-steps", "2"], capsys)
        assert_one_line_error(code, err, message)
        assert not out.exists()


def test_ctc_lines_whose_labels_cannot_fit_are_refused(tmp_path):
    from lstmkit.tasks.ctc.lines import load_lines
    path = tmp_path / "lines.npz"
    np.savez(path, x=np.zeros((2, 4, 8), np.float32), lengths=np.array([4, 4]),
             targets=np.array([[1, 2, -1, -1, -1, -1], [1, 2, 3, 4, 5, 6]]), target_lengths=np.array([2, 6]))
    with pytest.raises(ValueError, match="line 1 has 6 labels but 4 steps; CTC needs at least 6 steps"):
        load_lines(path)
    np.savez(path, x=np.zeros((1, 4, 8), np.float32), lengths=np.array([4]), targets=np.array([[3, 3, 3]]),
             target_lengths=np.array([3]))
    with pytest.raises(ValueError, match="line 0 has 3 labels but 4 steps; CTC needs at least 5"):
        load_lines(path)
    np.savez(path, x=np.zeros((1, 4, 8), np.float32), lengths=np.array([4]), targets=np.array([[3]]),
             target_lengths=np.array([2]))
    with pytest.raises(ValueError, match="target_lengths must be in 0..1 .*got 2 for line 0"):
        load_lines(path)


class _Stdin(io.TextIOWrapper):
    pass


@pytest.mark.parametrize("data,message", [(b"the cat\ncaf\xe9 au lait\n", "byte 0xe9 on line 2"),
                                          (b"ok\n\x00\x01\x02", "binary data (a NUL byte on line 2)")])
def test_tag_refuses_text_that_training_would_refuse(monkeypatch, data, message):
    from lstmkit.tasks.tagger.cli import read_stdin_text
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(data), encoding="utf-8"))
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        read_stdin_text()


def test_ctrl_c_during_the_imports_is_one_line(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "lstmkit", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    time.sleep(0.4)                                               # torch is still being imported
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the imports finished before the signal (a fast machine)")
    assert proc.returncode == 130 and "Traceback" not in err and err.strip() == "lstmkit: interrupted", err


@pytest.mark.parametrize("argv,message", [
    (["sample"], "the following arguments are required: RUN_DIR (see 'lstmkit sample --help')"),
    (["sample", "x", "--length", "nan"], "argument --length: invalid int value: 'nan'"),
    (["ctc-lines", "--split", "bogus", "--out", "x.npz"], "argument --split: invalid choice: 'bogus'"),
    (["train", "charlm", "--max-steps", "2.5"], "lstmkit train charlm: error: argument --max-steps"),
])
def test_usage_errors_are_one_line_too(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert_one_line_error(e.value.code, err, message)


def test_sampling_at_any_temperature_and_a_closed_stdout(tmp_path, capsys, text):
    run = tmp_path / "run"
    assert main([*map(str, [*TRAIN, "--text", text, "--out", run])]) == 0
    capsys.readouterr()
    for temperature in ("1e308", "1e-300"):                         # uniform; the most likely
        code, out, err = run_cli(["sample", run, "--length", "30", "--temperature", temperature], capsys)
        assert code == 0 and err == "" and len(out) >= 30, err
    proc = subprocess.run(f"'{sys.executable}' -m lstmkit sample '{run}' --length 20 >&-", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    proc = subprocess.run(f"'{sys.executable}' -m lstmkit sample '{run}' --length 200000 | head -c 5",
                          shell=True, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr and proc.stderr == "", proc.stderr


def test_next_distribution_refuses_a_diverged_models_scores():
    from lstmkit.generate import next_distribution
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="not finite"):
            next_distribution(torch.tensor([0.0, bad, 1.0]))
    with pytest.raises(ValueError, match="every symbol is banned"):
        next_distribution(torch.tensor([0.0, 1.0]), banned=[0, 1])


@pytest.mark.parametrize("settings,message", [
    ({"max_steps": "three"}, "max_steps must be int, got str"),
    ({"max_steps": True}, "max_steps must be int, got bool"),
    ({"max_steps": 3.7}, "max_steps must be int, got float"),
    ({"hidden": -4}, "hidden"),
])
def test_a_config_file_is_checked_even_where_flags_override_it(tmp_path, capsys, text, settings, message):
    import json
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(settings))
    out = tmp_path / "run"
    code, _, err = run_cli([*TRAIN, "--text", text, "--out", out, "--config", cfg], capsys)
    assert_one_line_error(code, err, f"--config {cfg}: ")
    assert message in err and not out.exists()


def test_a_run_is_trained_longer_by_resuming_with_more_steps(tmp_path, capsys, text):
    run = tmp_path / "run"
    assert main([*map(str, [*TRAIN, "--text", text, "--out", run])]) == 0
    code, _, err = run_cli(["train", "charlm", "--resume", run, "--max-steps", "6"], capsys)
    assert code == 0, err
    from lstmkit.train import load_checkpoint
    assert load_checkpoint(run / "checkpoints", "last")["state"]["step"] == 6
    code, _, err = run_cli(["train", "charlm", "--resume", run, "--hidden", "64", "--lr", "0.5"], capsys)
    assert_one_line_error(code, err, "different config")                # the differences, on one line
    assert "lr: 0.01 in the run, 0.5 now; hidden: 32 in the run, 64 now" in err


def test_running_out_of_memory_is_one_line(monkeypatch, capsys):
    from lstmkit.tasks.ctc import cli as ctc_cli

    def huge(*args, **kwargs):                # what `ctc-lines --max-digits 100000` met: torch's allocator
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 2850677685024 bytes.")
    monkeypatch.setattr(ctc_cli, "make_lines", huge)
    code, _, err = run_cli(["ctc-lines", "--lines", "4", "--out", "/dev/null"], capsys)
    assert_one_line_error(code, err, "out of memory")
    monkeypatch.setattr(ctc_cli, "make_lines", lambda *a, **k: 1 / 0)       # a bug keeps its traceback
    with pytest.raises(ZeroDivisionError):
        main(["ctc-lines", "--lines", "4", "--out", "/dev/null"])


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, text):
    run = tmp_path_factory.mktemp("runs") / "charlm"
    assert main([*map(str, [*TRAIN, "--text", text, "--out", run])]) == 0
    return run


def test_outputs_never_replace_an_input_or_a_runs_own_files(tmp_path, capsys, small_run):
    series = tmp_path / "s.csv"
    series.write_text("t,y\n" + "".join(f"{t},{t % 7}\n" for t in range(80)))
    before = series.read_bytes()
    code, _, err = run_cli(["forecast", small_run, "--csv", series, "--out", series], capsys)
    assert_one_line_error(code, err, "is also an input of this command")
    assert series.read_bytes() == before
    config = (small_run / "config.json").read_bytes()
    code, _, err = run_cli(["inspect", small_run, "--text", "hi", "--no-png", "--out", small_run / "config.json"],
                           capsys)
    assert_one_line_error(code, err, "is a file of the run folder")
    assert (small_run / "config.json").read_bytes() == config


@pytest.mark.parametrize("argv,message", [
    (["inspect", "RUN", "--text", "hi", "--quantities", ""], "--quantities '' names none"),
    (["inspect", "RUN", "--text", "hi", "--no-png", "--png-dir", "x"], "has no effect with --no-png"),
    (["longlag", "adding", "--T", "20", "--threads", "0"], "--threads must be >= 1, got 0"),
    (["longlag", "adding", "--T", "20", "--max-seconds", "nan"], "must be a finite number > 0, got nan"),
    (["longlag", "adding", "--T", "20", "--log-every", "nan"], "must be a finite number > 0, got nan"),
    (["longlag", "adding", "--T", "20", "--init", "chrono", "--forget-bias", "2"], "no effect with --init chrono"),
    (["longlag", "adding", "--T", "20", "--cell", "rnn", "--forget-bias", "2"], "is an LSTM option"),
    (["longlag", "suite", "--quick", "--seeds", "0"], "--seeds must be >= 1, got 0"),
    (["longlag", "suite", "--quick", "--name", "../../evil"], "must be a file name stem"),
    (["bench", "--quick", "--out", "DIR"], "it is a directory; expected a file path"),
    (["ctc-lines", "--noise", "inf", "--out", "DIR/x.npz"], "noise must be a finite number >= 0"),
])
def test_more_nonsense_is_refused_before_any_work(tmp_path, capsys, small_run, argv, message):
    argv = [str(small_run) if a == "RUN" else str(tmp_path) if a == "DIR" else
            a.replace("DIR", str(tmp_path)) for a in argv]
    try:
        code = main(argv)
    except SystemExit as e:                                        # argparse's own checks
        code = e.code
    err = capsys.readouterr().err
    assert_one_line_error(code, err, message)
    assert list(tmp_path.iterdir()) == []


def test_gradflow_checks_before_making_its_folder(tmp_path, capsys):
    for flags, message in ((["--T", "0"], "T must be >= 6, got 0"), (["--hidden", "0"], "hidden must be >= 1")):
        code, _, err = run_cli(["longlag", "gradflow", "--task", "adding", *flags, "--out", tmp_path / "gf"], capsys)
        assert_one_line_error(code, err, message)
        assert not (tmp_path / "gf").exists()


def test_damaged_data_files_are_one_line(tmp_path, capsys):
    from lstmkit.tasks.ctc.lines import load_lines
    for name, data in (("trunc.npz", b"PK\x03\x04" + b"\0" * 20), ("empty.npz", b"")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=f"{name}: expected a .npz file of arrays"):
            load_lines(tmp_path / name)
    table = tmp_path / "dup.csv"
    table.write_text("text,label,label\nfine,a,b\nbad,b,a\n")
    from lstmkit.tasks.classify import ClassifyConfig
    from lstmkit.tasks.classify.data import read_examples
    with pytest.raises(ValueError, match="column 'label' appears 2 times"):
        read_examples(str(table), ClassifyConfig())


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_training_stopped_by_a_signal_saves_and_exits_as_interrupted(tmp_path, text, sig, status):
    """Scripts must not carry on as if the run had finished: 128 + the signal, after saving."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "lstmkit", *map(str, TRAIN), "--text", str(text), "--out",
                             str(run), "--max-steps", "1000000", "--log-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith(f"continue with --resume {run}"), err
    assert (run / "checkpoints" / "last.json").exists()


def test_a_symlink_loop_is_one_line(tmp_path, capsys):
    loop = tmp_path / "loop.txt"
    loop.symlink_to("loop.txt")
    code, _, err = run_cli([*TRAIN, "--text", loop, "--out", tmp_path / "run"], capsys)
    assert_one_line_error(code, err, "a symbolic link that leads back to itself")
