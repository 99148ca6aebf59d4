"""Fixtures of the inspect tests: a headless Chromium (installed with apt-get on first use when missing)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LOCK = "/tmp/lstmkit-chromium-install.lock"


def _find() -> str | None:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _apt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["nice", "-n", "15", "apt-get", *args], env=env, capture_output=True, text=True,
                          timeout=900)


def _install() -> str:
    """Install Debian's chromium once (a lock keeps parallel workers from racing); '' on success, else why not."""
    if not shutil.which("apt-get"):
        return "there is no apt-get to install Debian's chromium package with"
    if os.geteuid() != 0:
        return "installing Debian's chromium package needs root (apt-get), and the tests do not run as root"
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _find():
            return ""
        opts = ("-y", "-o", "DPkg::Lock::Timeout=600", "install", "chromium")
        done = _apt(*opts)
        if done.returncode != 0:                                 # stale package lists: refresh once
            _apt("update")
            done = _apt(*opts)
        if done.returncode != 0 or not _find():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"apt-get install chromium failed (exit {done.returncode}): {' | '.join(tail)}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; skips (with the reason) only where it cannot be installed."""
    path = _find()
    if path is None:
        why = _install()
        path = _find()
        if path is None:
            pytest.skip(f"no Chromium for the browser test: {why}")
    return path
