"""Writing files so that a crash never leaves a half-written one: temp file in the same folder, fsync,
then rename over the target (``os.replace`` is atomic on POSIX and Windows)."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json"]


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside ``target``; when the block ends without error the file there is
    synced and renamed onto ``target``; on error it is removed and ``target`` is untouched.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.train.atomic import atomic_path
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "data.bin"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_bytes(b"complete")
        >>> out.read_bytes(), oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
        (b'complete', True)
    """
    target = pathlib.Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = pathlib.Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes 0600; give the file a normal file's mode
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(target.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_dir(folder: pathlib.Path) -> None:
    """Make the rename itself durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    """Atomically replace ``target`` with ``data``."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Atomically replace ``target`` with ``text`` (UTF-8)."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Atomically replace ``target`` with ``obj`` as indented JSON."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")
