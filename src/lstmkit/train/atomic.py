"""Writing files so that a crash never leaves a half-written one: temp file in the same folder, fsync,
then rename over the target (``os.replace`` is atomic on POSIX and Windows).

What the target is decides how it is written:

* a new path or a regular file: atomically, as above;
* a symbolic link: atomically *at the file it points to* (the link stays a link, its target gets the data);
* a FIFO or a character device (``/dev/stdout``, a named pipe a reader waits on, ``/dev/null``): the data is
  streamed into it once complete; a device node is never replaced or removed;
* a directory, a socket or a block device: refused, naming the path.

Errors name the user's path, never the temporary file.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "check_output", "OutputError"]


class OutputError(OSError):
    """A target that cannot be written (what it is, or the system's reason), naming the user's path."""


def _resolve(target: pathlib.Path) -> tuple[pathlib.Path, str]:
    """(where to write, how): "file" (atomic replace, symlinks followed) or "stream" (FIFO, character
    device); refuses what cannot be written."""
    real = pathlib.Path(os.path.realpath(target)) if target.is_symlink() else target
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        if target.is_symlink():                                      # a dangling link: create its target
            return real, "file"
        return target, "file"
    if stat.S_ISREG(mode):
        return real, "file"
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return real, "stream"
    kind = "a directory" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "a block device"
    raise OutputError(f"cannot write {target}: it is {kind}; expected a file path")


def _is_run_file(path: pathlib.Path) -> bool:
    """Whether ``path`` is one of a run folder's own files (see :meth:`RunDir.owns`)."""
    from .rundir import RunDir                                     # rundir writes through this module
    return RunDir.owns(path)


def check_output(target: str | os.PathLike, inputs: tuple = (), flag: str = "--out",
                 makes_folder: bool = False) -> pathlib.Path:
    """Check, before any work, that ``target`` can be written as an output: not a directory (socket, block
    device), its folder exists (unless the command ``makes_folder``), it is none of ``inputs`` (the files
    the command reads), and it is not a run folder's own file. Raise :class:`OutputError` naming ``flag``
    otherwise; return the target.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.train.atomic import check_output
        >>> data = pathlib.Path(tempfile.mkdtemp()) / "series.csv"
        >>> _ = data.write_text("y\\n1\\n")
        >>> check_output(data, inputs=(data,))
        Traceback (most recent call last):
        ...
        lstmkit.train.atomic.OutputError: --out .../series.csv is also an input of this command; expected another path (writing it would replace what is being read)
    """
    user = pathlib.Path(target)
    try:
        dest, how = _resolve(user)
    except OutputError as e:
        raise OutputError(f"{flag} {str(e)[len('cannot write '):]}") from None
    if how == "stream":
        return user
    if not dest.parent.is_dir() and not makes_folder:
        raise OutputError(f"{flag} {user}: its folder {dest.parent} does not exist; expected an existing folder")
    for source in inputs:
        if source is not None and str(source) != "-" and dest.exists() and pathlib.Path(source).exists() \
                and os.path.samefile(dest, source):
            raise OutputError(f"{flag} {user} is also an input of this command; expected another path (writing "
                              f"it would replace what is being read)")
    if _is_run_file(dest):
        raise OutputError(f"{flag} {user} is a file of the run folder {dest.parent}; expected a path outside "
                          f"the run's own files (config.json, metrics.jsonl, checkpoints/)")
    return user


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yield a temporary path to write; when the block ends without error its contents become ``target``
    (see the module docstring for links, pipes and devices); on error ``target`` is untouched.

    Example::

        >>> import pathlib, tempfile
        >>> from lstmkit.train.atomic import atomic_path
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "data.bin"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_bytes(b"complete")
        >>> out.read_bytes(), oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
        (b'complete', True)
    """
    user = pathlib.Path(target)
    dest, how = _resolve(user)
    folder = dest.parent if how == "file" else None                   # a stream's temp file goes elsewhere
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OutputError(e.errno, f"cannot write {user}: {e.strerror}") from None
    os.close(fd)
    tmp = pathlib.Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes 0600; give the file a normal file's mode
        yield tmp
        if how == "stream":
            with open(tmp, "rb") as src, open(dest, "ab") as out:     # append: never truncates a device
                shutil.copyfileobj(src, out)
        else:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OutputError) or e.errno is None:
            raise
        raise OutputError(e.errno, f"cannot write {user}: {e.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if how == "stream":
            tmp.unlink(missing_ok=True)
    if how == "file":
        _sync_dir(dest.parent)


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
    """Atomically replace ``target`` with ``data`` (see the module docstring for links, pipes, devices)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    """Atomically replace ``target`` with ``text`` (UTF-8)."""
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    """Atomically replace ``target`` with ``obj`` as indented JSON."""
    write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")
