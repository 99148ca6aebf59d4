"""Command-line flags from a config dataclass: one ``--flag`` per field, with its help and default.

Flags that are not given stay unset (``argparse.SUPPRESS``), so :func:`config_from_args` can tell what
the command line changes: on top of the defaults, of ``--config FILE.json``, or of a resumed run's config.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import types
import typing
from dataclasses import MISSING, fields
from typing import Any, Optional

from .config import config_from_dict

__all__ = ["add_config_args", "config_from_args", "read_config_file"]


def _optional(parse):
    def read(text: str):
        return None if text.lower() in ("none", "") else parse(text)
    read.__name__ = getattr(parse, "__name__", "value")
    return read


def add_config_args(parser: argparse.ArgumentParser, cls: type, title: Optional[str] = None) -> None:
    """Add one flag per field of config dataclass ``cls`` (``max_steps`` -> ``--max-steps``).

    Example::

        >>> import argparse
        >>> from lstmkit.train import TrainConfig
        >>> from lstmkit.train.cli_args import add_config_args, config_from_args
        >>> p = argparse.ArgumentParser()
        >>> add_config_args(p, TrainConfig)
        >>> config_from_args(TrainConfig, p.parse_args(["--lr", "1e-3", "--max-time", "2m"])).max_time
        120.0
    """
    group = parser.add_argument_group(title) if title else parser
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        meta = f.metadata
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else f.default_factory()
        kw: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS,
                              "help": f"{meta.get('help', '')} (default: {default if default != '' else 'none'})"}
        ann = hints[f.name]
        nullable = False
        if typing.get_origin(ann) in (typing.Union, types.UnionType):
            nullable = type(None) in typing.get_args(ann)
            ann = next(a for a in typing.get_args(ann) if a is not type(None))
        if ann is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(ann) is list:
            kw.update(nargs="+", type=typing.get_args(ann)[0], metavar=f.name.upper())
        else:
            parse = meta.get("parse") or ann
            kw["type"] = _optional(parse) if nullable else parse
            if meta.get("choices"):
                kw["choices"] = meta["choices"]
        group.add_argument(flag, **kw)


def read_config_file(path: str | pathlib.Path, task: str) -> dict:
    """Settings from a JSON file (a run's ``config.json`` works); a ``"task"`` key must match ``task``."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: expected a JSON file, which does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"--config {path}: expected JSON, got a parse error ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a JSON object of settings, got {type(data).__name__}")
    if data.get("task", task) != task:
        raise ValueError(f"--config {path} is for task {data['task']!r}; expected {task!r}")
    data.pop("task", None)
    return data


def config_from_args(cls: type, args: argparse.Namespace, base: Optional[dict] = None):
    """``cls`` from ``base`` (defaults when None) overridden by the flags given on the command line."""
    given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
    return config_from_dict(cls, {**(base or {}), **given})
