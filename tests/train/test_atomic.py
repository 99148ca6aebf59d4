"""The one writer (train/atomic.py): atomic for files, through symbolic links, streaming into pipes and
devices (never replacing them), refusing what cannot be written, errors naming the user's path."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from lstmkit.train.atomic import OutputError, atomic_path, write_text


def test_a_new_file_and_a_replaced_file(tmp_path):
    write_text(tmp_path / "a.txt", "one")
    write_text(tmp_path / "a.txt", "two")
    assert (tmp_path / "a.txt").read_text() == "two"
    assert os.listdir(tmp_path) == ["a.txt"]                         # no temp file left


def test_an_error_in_the_block_leaves_the_target_untouched(tmp_path):
    (tmp_path / "a.txt").write_text("keep")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert (tmp_path / "a.txt").read_text() == "keep" and os.listdir(tmp_path) == ["a.txt"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real.csv").write_text("old")
    os.symlink(tmp_path / "real.csv", tmp_path / "link.csv")
    os.symlink("missing.csv", tmp_path / "dangling.csv")              # relative, pointing nowhere yet
    write_text(tmp_path / "link.csv", "new")
    write_text(tmp_path / "dangling.csv", "made")
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "real.csv").read_text() == "new"
    assert (tmp_path / "dangling.csv").is_symlink() and (tmp_path / "missing.csv").read_text() == "made"


def test_a_fifo_gets_the_data_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_text(fifo, "streamed")
    reader.join(timeout=10)
    assert got == ["streamed"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_a_device_is_written_not_replaced():
    write_text("/dev/null", "discarded")
    with pytest.raises(OSError, match="cannot write /dev/full: No space left on device"):
        write_text("/dev/full", "x")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_what_cannot_be_written_is_refused_by_its_name(tmp_path):
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}: it is a directory"):
        write_text(tmp_path, "x")
    with pytest.raises(OutputError, match=r"cannot write .*nodir/x.csv: No such file or directory") as e:
        write_text(tmp_path / "nodir" / "x.csv", "x")
    assert ".tmp" not in str(e.value)                                 # never the temporary file's name
