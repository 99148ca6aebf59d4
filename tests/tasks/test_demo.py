"""The `lstmkit demo` job: it learns (short gaps keep the test fast) and its CLI runs."""

from __future__ import annotations

import subprocess
import sys

from lstmkit.tasks.demo import DemoConfig, run


def test_lstm_learns_to_remember_the_country():
    lines = []
    res = run(DemoConfig(steps=80, gap_min=3, gap_max=8, compare="", batch=32), log=lines.append)
    assert res["models"]["lstm"]["accuracy"] > 0.9
    assert any("I speak fluent" in line for line in lines)


def test_cli_help_and_demo_run():
    out = subprocess.run([sys.executable, "-m", "lstmkit", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout
    out = subprocess.run([sys.executable, "-m", "lstmkit", "demo", "--steps", "10", "--gap-min", "2",
                          "--gap-max", "4", "--compare", "gru"], capture_output=True, text=True, check=True)
    assert "Accuracy on fresh sentences" in out.stdout and "GRU" in out.stdout


def test_cli_reports_bad_arguments_clearly():
    out = subprocess.run([sys.executable, "-m", "lstmkit", "demo", "--compare", "transformer"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "cell and compare must be one of ['gru', 'lstm', 'rnn'], got 'lstm' and 'transformer'" in out.stderr
