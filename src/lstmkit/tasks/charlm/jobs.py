"""What the two commands do, callable from Python: train (or resume) a run, and sample from one."""

from __future__ import annotations

import pathlib
import sys
from typing import IO, Iterator, Optional

import torch

from ...generate import sample_ids
from ...train import CheckpointError, RunDir, TrainResult
from ..runs import fit_run, open_checkpoint
from .config import CharLMConfig
from .model import CharLM
from .task import CharLMTask
from .vocab import Vocab

__all__ = ["train", "resume", "load_model", "sample_text"]


def _resolve_paths(cfg: CharLMConfig) -> CharLMConfig:
    """Text paths made absolute, so the run resumes from any working directory."""
    cfg.text = [str(pathlib.Path(p).expanduser().resolve()) for p in cfg.text]
    return cfg


def train(cfg: CharLMConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/charlm-<timestamp>``); the text is read and checked
    before the folder is made, so bad input leaves nothing behind.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.charlm import CharLMConfig, train
        >>> cfg = CharLMConfig(max_steps=4, hidden=16, embed=8, layers=1, batch_size=4, seq_len=16,
        ...                    eval_every=2, eval_chars=500, sample_chars=0, final_sample=0)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        4
    """
    cfg = _resolve_paths(cfg)
    cfg.validate()
    task = CharLMTask(cfg)
    return fit_run(task, out, stream=stream, then=_final_sample)[0]


def resume(run_path: str | pathlib.Path, cfg: CharLMConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` from its ``last`` checkpoint; ``cfg`` must equal the run's config except
    for control settings (``max_time``, ``tensorboard``, ``final_sample``); a relative --text naming the run's
    file is the same file."""
    task = CharLMTask(_resolve_paths(cfg))
    return fit_run(task, resume=run_path, stream=stream, then=_final_sample)[0]


def _final_sample(task: CharLMTask, run: RunDir, cfg: CharLMConfig, stream: Optional[IO]) -> None:
    if not cfg.final_sample:
        return
    model, _, which = load_model(run.path)
    out = stream or sys.stdout
    print(f"\nSample from the {which} checkpoint ({run.path}):\n", file=out)
    print(task.generate(model, cfg.final_sample, seed=cfg.seed), file=out, flush=True)


def load_model(run_path: str | pathlib.Path, checkpoint: str = "auto",
               device: str = "cpu") -> tuple[CharLM, Vocab, str]:
    """``(model in eval mode, vocabulary, checkpoint name)`` of a charlm run; ``checkpoint`` is ``best``,
    ``last`` or ``auto`` (best if there is one)."""
    cfg, state, checkpoint = open_checkpoint(run_path, CharLMConfig, checkpoint)
    try:
        vocab = Vocab.from_json(state["meta"]["vocab"])
        model = CharLM(len(vocab), cfg)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as e:
        where = RunDir.open(run_path).checkpoints / f"{checkpoint}.json"
        raise CheckpointError(f"checkpoint {where} does not match the run's config.json: "
                              f"{str(e).splitlines()[0]}") from None
    return model.to(device).eval(), vocab, checkpoint


def sample_text(model: CharLM, vocab: Vocab, prime: str, length: int, temperature: float = 1.0,
                top_k: int = 0, seed: Optional[int] = None, unknown: str = "error") -> Iterator[str]:
    """An iterator of ``length`` characters continuing ``prime``, drawn one at a time. The prime is checked
    here, before anything is drawn.

    ``unknown`` is the policy for characters of ``prime`` outside the vocabulary: ``error`` (name them),
    ``replace`` (read them as the <unk> symbol) or ``skip`` (drop them).

    Example::

        >>> from lstmkit.tasks.charlm import CharLM, CharLMConfig, Vocab, sample_text
        >>> vocab = Vocab.from_text("abc ")
        >>> model = CharLM(len(vocab), CharLMConfig(hidden=8, embed=4, layers=1)).eval()
        >>> len("".join(sample_text(model, vocab, "ab", 10, seed=0)))
        10
        >>> sample_text(model, vocab, "abz", 10)
        Traceback (most recent call last):
        ...
        ValueError: --prime has 1 character(s) the model never saw: 'z' (U+007A); expected ...
    """
    if not prime:
        raise ValueError("--prime must hold at least one character, got an empty string")
    if unknown not in ("error", "replace", "skip"):
        raise ValueError(f"unknown must be error, replace or skip, got {unknown!r}")
    missing = vocab.unknown(prime)
    if missing and unknown == "error":
        raise ValueError(f"--prime has {len(missing)} character(s) the model never saw: "
                         f"{', '.join(f'{c!r} (U+{ord(c):04X})' for c in missing)}; expected characters of its "
                         f"vocabulary, or --unknown replace / skip")
    if missing and unknown == "skip":
        prime = "".join(c for c in prime if c in vocab.index)
        if not prime:
            raise ValueError("--prime has no character of the vocabulary left after --unknown skip")
    p = next(model.parameters())
    g = torch.Generator(device=p.device).manual_seed(seed) if seed is not None else None
    ids = sample_ids(model, vocab.encode(prime).to(p.device), length, temperature, top_k, g, banned=[0])
    return (vocab.chars[i] for i in ids)
