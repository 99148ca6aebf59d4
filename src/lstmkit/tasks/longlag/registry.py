"""The experiments by name: how to build each task from the command-line parameters, what the paper
reports for it, and the training settings that solve it with Adam and mini-batches.

Example::

    >>> from lstmkit.tasks.longlag.registry import make_task, paper
    >>> make_task("adding", T=500).describe(), paper("adding", T=500)
    ('4 adding T=500', (209000, '209,000'))
    >>> make_task("6a", T=100)
    Traceback (most recent call last):
    ...
    ValueError: task 6a takes no T (it takes no parameters), got T=100
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .arith import Adding, ModernAdding, Multiplication
from .base import Task
from .classify import TemporalOrder, TwoSequence
from .copymem import CopyMemory
from .lags import NoiseFreeLag, RandomMiddleLag, VeryLongLag
from .reber import ContinualReber, EmbeddedReber

__all__ = ["TASKS", "Recipe", "make_task", "paper", "recipe"]


@dataclass(frozen=True)
class Recipe:
    """Training settings for a task (each overridable from the command line)."""

    hidden: int = 32
    batch: int = 32
    lr: float = 1e-2
    max_sequences: int = 200_000


#: name -> (factory taking only the named parameters, parameter names, recipe, what the paper says of
#: the other networks)
TASKS: dict[str, tuple[Callable[..., Task], tuple[str, ...], Recipe, str]] = {
    "reber": (lambda seed: EmbeddedReber(seed=seed), (), Recipe(hidden=16, batch=16, lr=1e-2, max_sequences=100_000),
              "Elman 0%, RTRL some fraction, RCC 50%"),
    "reber-continual": (lambda seed, T=100_000: ContinualReber(seed=seed, test_symbols=T), ("T",),
                        Recipe(hidden=16, batch=16, lr=1e-2, max_sequences=500_000),
                        "standard LSTM 0%, forget gates 18%, + lr decay 62%"),
    "2a": (lambda seed, p=100: NoiseFreeLag(p=p), ("p",), Recipe(hidden=16, batch=16, lr=1e-2, max_sequences=200_000),
           "RTRL/BPTT 0% at p=10 and p=100"),
    "2b": (lambda seed, p=100: RandomMiddleLag(p=p), ("p",), Recipe(hidden=16, batch=16, lr=1e-2,
                                                                    max_sequences=200_000),
           "chunker, BPTT, RTRL fail"),
    "2c": (lambda seed, T=100, p=None: VeryLongLag(q=T, p=T if p is None else p), ("T", "p"),
           Recipe(hidden=16, batch=16, lr=1e-2, max_sequences=500_000), "no chance"),
    "3a": (lambda seed, T=100, N=3: TwoSequence(T=T, N=N, seed=seed), ("T", "N"),
           Recipe(hidden=8, batch=16, lr=1e-2, max_sequences=200_000), "random weight guessing solves it too"),
    "adding": (lambda seed, T=100: Adding(T=T), ("T",), Recipe(hidden=32, batch=32, lr=1e-2, max_sequences=1_000_000),
               "never solved before"),
    "multiplication": (lambda seed, T=100: Multiplication(T=T), ("T",),
                       Recipe(hidden=32, batch=32, lr=1e-2, max_sequences=1_000_000), "-"),
    "6a": (lambda seed: TemporalOrder.six_a(), (), Recipe(hidden=32, batch=32, lr=1e-2, max_sequences=500_000), "-"),
    "6b": (lambda seed: TemporalOrder.six_b(), (), Recipe(hidden=32, batch=32, lr=1e-2, max_sequences=1_000_000), "-"),
    "adding-modern": (lambda seed, T=200: ModernAdding(T=T), ("T",),
                      Recipe(hidden=32, batch=32, lr=1e-2, max_sequences=500_000),
                      "Bai et al. T=600: LSTM 0.164, GRU 5.3e-5, RNN 0.177"),
    "copy": (lambda seed, T=100: CopyMemory(T=T), ("T",), Recipe(hidden=64, batch=32, lr=1e-2, max_sequences=500_000),
             "Bai et al. T=1000: LSTM 0.0204, GRU 0.0197, RNN 0.0202"),
}

#: (task, parameters) -> the paper's LSTM figure: sequences to the stopping criterion, and as printed
_PAPER: dict[tuple, tuple[Optional[int], str]] = {
    ("reber",): (8440, "8,440 (3,800-24,100)"),
    ("reber-continual",): (None, "0% std LSTM; 18% with forget gates"),
    ("2a", 100): (5040, "5,040"),
    ("2b", 100): (5680, "5,680"),
    ("2c", 100, 100): (31000, "31,000"),
    ("2c", 1000, 1000): (49000, "49,000"),
    ("2c", 1000, 50): (203000, "203,000"),
    ("3a", 100, 3): (39850, "39,850 (ST1 27,380)"),
    ("3a", 1000, 3): (446850, "446,850"),
    ("adding", 100): (74000, "74,000"),
    ("adding", 500): (209000, "209,000"),
    ("adding", 1000): (853000, "853,000"),
    ("multiplication", 100): (482000, "482,000 (test MSE 0.0223)"),
    ("6a",): (31390, "31,390"),
    ("6b",): (571100, "571,100"),
    ("adding-modern", 600): (None, "LSTM MSE 0.164 (Bai et al.)"),
    ("copy", 1000): (None, "LSTM loss 0.0204 (Bai et al.)"),
}


#: the task attributes that identify a row of the paper's table
_KEY_PARAMS = {"2a": ("p",), "2b": ("p",), "2c": ("q", "p"), "3a": ("T", "N"), "adding": ("T",),
               "multiplication": ("T",), "adding-modern": ("T",), "copy": ("T",)}


def _check(name: str) -> None:
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")


def make_task(name: str, seed: int = 0, **params) -> Task:
    """Build task ``name``; ``params`` (T, p, N) that are None take the task's defaults; a parameter the
    task does not take is an error."""
    _check(name)
    factory, names, _, _ = TASKS[name]
    given = {k: v for k, v in params.items() if v is not None}
    for k, v in given.items():
        if k not in names:
            takes = f"it takes {', '.join(names)}" if names else "it takes no parameters"
            raise ValueError(f"task {name} takes no {k} ({takes}), got {k}={v}")
    return factory(seed=seed, **given)


def recipe(name: str) -> Recipe:
    """The task's default training settings."""
    _check(name)
    return TASKS[name][2]


def others(name: str) -> str:
    """What the paper reports for the other networks on this task."""
    _check(name)
    return TASKS[name][3]


def paper(name: str, **params) -> tuple[Optional[int], str]:
    """The paper's LSTM figure for this task and parameters: (sequences or None, text); ``(None, "-")``
    where the paper has no figure for these parameters."""
    task = make_task(name, **params)
    key = (name,) + tuple(getattr(task, k) for k in _KEY_PARAMS.get(name, ()))
    return _PAPER.get(key, (None, "-"))
