"""``lstmkit sample RUN_DIR``: which task's sampler serves a run.

The command is registered by the charlm job (its flags, its behaviour for charlm runs); other tasks that
generate (music: a MIDI file) register a sampler here with :func:`register_sampler`, and add their own flags
to the ``sample`` parser. The run's ``config.json`` task field chooses, as ``lstmkit eval`` does.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Callable

from ..train import RunDir

__all__ = ["register_sampler", "sampler_for", "SAMPLERS"]

Sampler = Callable[[RunDir, argparse.Namespace], None]

#: task name -> sampler; filled by the task packages when they are imported
SAMPLERS: dict[str, Sampler] = {}


def register_sampler(task: str, fn: Sampler) -> Sampler:
    """Declare ``fn(run, args)`` as what ``lstmkit sample`` does with runs of ``task``."""
    SAMPLERS[task] = fn
    return fn


def sampler_for(run: RunDir, expected: str = "charlm") -> Sampler | None:
    """The sampler registered for ``run``'s task (importing its package), None for ``expected`` (the
    command's own task); ValueError naming the tasks that can be sampled when there is none."""
    task = run.task
    if task == expected:
        return None
    if task not in SAMPLERS:
        try:
            importlib.import_module(f"lstmkit.tasks.{task}")
        except ImportError:
            pass
    if task not in SAMPLERS:
        known = ", ".join(sorted({expected, *SAMPLERS}))
        raise ValueError(f"{run.path} is a {task!r} run; lstmkit sample generates from {known} runs")
    return SAMPLERS[task]
