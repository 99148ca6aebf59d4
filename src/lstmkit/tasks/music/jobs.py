"""What the music commands do, callable from Python: train (or resume) a run and report its best
checkpoint's validation and test NLL, load a run, sample a MIDI file, evaluate on new data."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import IO, Optional

import torch

from ...train import CheckpointError, RunDir, TrainResult
from ...train.atomic import check_output, write_json
from ..runs import absolute_paths, fit_run, open_checkpoint
from .config import MusicConfig
from .midi import write_midi
from .model import MusicRNN, sample_roll
from .plot import plot_rolls
from .rolls import Rolls, load_rolls
from .task import MusicTask, split_nll

__all__ = ["train", "resume", "load_model", "generate", "evaluate_run", "final_report"]


def _resolve(cfg: MusicConfig) -> MusicConfig:
    """Paths made absolute (the run resumes from any folder) and max_steps 0 resolved."""
    absolute_paths(cfg, ("data",))
    cfg.max_steps = cfg.resolved_max_steps()
    cfg.validate()
    return cfg


def train(cfg: MusicConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/music-<timestamp>``), then report the best checkpoint's
    validation and test NLL (``results.json``), and write a generated piece (``samples/final.mid``) and
    ``pianoroll.png``. The data are read and checked before the folder is made.

    Example (the synthetic chorales, a few steps)::

        >>> import json, tempfile
        >>> from lstmkit.tasks.music import MusicConfig
        >>> from lstmkit.tasks.music.jobs import train
        >>> run = tempfile.mkdtemp() + "/run"
        >>> cfg = MusicConfig(max_steps=20, eval_every=10, hidden=16, layers=1, final_sample=16)
        >>> result = train(cfg, run, stream=open("/dev/null", "w"))
        >>> results = json.load(open(run + "/results.json"))
        >>> results["checkpoint"], results["val_nll"] < 88 * 0.6932          # better than p = 0.5 everywhere
        ('best', True)
    """
    cfg = _resolve(cfg)
    return fit_run(MusicTask(cfg), out, stream=stream, then=final_report)[0]


def resume(run_path: str | pathlib.Path, cfg: MusicConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint (``cfg`` may change only control
    settings: ``--max-time``, ``--max-steps``, ``--final-sample`` ...)."""
    return fit_run(MusicTask(_resolve(cfg)), resume=run_path, stream=stream, then=final_report)[0]


def load_model(run_path: str | pathlib.Path, checkpoint: str = "auto",
               device: str = "cpu") -> tuple[MusicRNN, MusicConfig, dict, str]:
    """``(model in eval mode, config, checkpoint metadata, checkpoint name)`` of a music run."""
    cfg, state, checkpoint = open_checkpoint(run_path, MusicConfig, checkpoint)
    try:
        meta = state["meta"]
        model = MusicRNN(int(meta["width"]), cfg)
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError) as e:
        where = RunDir.open(run_path).checkpoints / f"{checkpoint}.json"
        raise CheckpointError(f"checkpoint {where} does not match the run's config.json: "
                              f"{str(e).splitlines()[0]}") from None
    return model.to(device).eval(), cfg, meta, checkpoint


def generate(model: MusicRNN, rolls: Optional[Rolls], length: int, prime_frames: int = 16, temperature: float = 1.0,
             seed: Optional[int] = None, piece: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(real, generated)``: the first ``prime_frames`` frames of test sequence ``piece`` of ``rolls``
    (none: an empty prime) and ``length`` frames sampled after them; ``real`` is that test sequence."""
    real = rolls.test[piece % len(rolls.test)] if rolls is not None else torch.zeros(0, model.width, dtype=torch.uint8)
    prime = real[:prime_frames] if rolls is not None and prime_frames else None
    new = sample_roll(model, length, prime, temperature, seed)
    full = new if prime is None else torch.cat([prime.to(torch.uint8), new])
    return real, full


def final_report(task: MusicTask, run: RunDir, cfg: MusicConfig, stream: Optional[IO]) -> None:
    """After training: the best checkpoint's NLL on the validation and test splits (printed, and written to
    ``results.json``); with ``final_sample`` > 0 a piece primed by a test sequence's first frames, written
    to ``samples/final.mid``, and ``pianoroll.png`` (real above generated)."""
    out = stream or sys.stdout
    model, _, meta, which = load_model(run.path)
    val, n_val = split_nll(model, task.rolls.valid, cfg.eval_batch_size)
    test, n_test = split_nll(model, task.rolls.test, cfg.eval_batch_size)
    best = RunDir.open(run.path).checkpoints / f"{which}.json"
    report = {"checkpoint": which, "checkpoint_file": str(best), "parameters": model.num_parameters(),
              "data": task.rolls.source, "val_frames": n_val, "test_frames": n_test,
              "val_nll": round(val, 5), "test_nll": round(test, 5)}
    write_json(run.path / "results.json", report)
    print(f"\n{which} checkpoint of {run.path} ({model.num_parameters():,} parameters): validation NLL "
          f"{val:.4f}, test NLL {test:.4f} (nats per frame; {n_val:,} and {n_test:,} frames)", file=out, flush=True)
    if cfg.final_sample:
        primed = min(16, len(task.rolls.test[0]) - 1)
        real, generated = generate(model, task.rolls, cfg.final_sample, primed, seed=cfg.seed)
        plot_rolls(run.path / "pianoroll.png", [("real: test sequence 0", real),
                                                 (f"generated: primed by its first {primed} frames, {which} "
                                                  f"checkpoint", generated)], title=str(run.path.name))
        try:
            import pretty_midi  # noqa: F401  (the music extra; training itself does not need it)
        except ImportError:
            print(f"piano-roll: {run.path / 'pianoroll.png'}; no MIDI sample written: pretty_midi is not "
                  f"installed (pip install 'lstmkit[music]')", file=out, flush=True)
            return
        run.samples.mkdir(exist_ok=True)
        write_midi(generated, run.samples / "final.mid", task.rolls.frame_seconds)
        print(f"sample: {run.samples / 'final.mid'}; piano-roll: {run.path / 'pianoroll.png'}", file=out, flush=True)


def sample_run(run: RunDir, args: argparse.Namespace) -> None:
    """``lstmkit sample`` of a music run: ``--length`` frames to a MIDI file (``--midi``, default
    RUN_DIR/samples/sample.mid) and a piano-roll PNG beside it (real prime piece above the generated one)."""
    for flag, default in (("prime", None), ("top_k", 0), ("unknown", "error")):
        if getattr(args, flag, default) != default:
            raise ValueError(f"--{flag.replace('_', '-')} is for charlm runs; {run.path} is a music run (it takes "
                             f"--prime-frames, --data, --piece, --midi)")
    midi = pathlib.Path(args.midi) if args.midi else run.samples / "sample.mid"
    check_output(midi, flag="--midi", makes_folder=not args.midi)
    model, cfg, meta, which = load_model(run.path, args.checkpoint)
    prime_frames = 16 if args.prime_frames is None else args.prime_frames
    if prime_frames < 0:
        raise ValueError(f"--prime-frames must be >= 0, got {prime_frames}")
    data = args.data if args.data is not None else cfg.data
    rolls = load_rolls(data, cfg.frames_per_beat, cfg.fs, width=model.width) if prime_frames else None
    temperature = 1.0 if args.temperature is None else args.temperature
    real, generated = generate(model, rolls, args.length, prime_frames, temperature, args.seed, args.piece)
    midi.parent.mkdir(parents=True, exist_ok=True)
    seconds = rolls.frame_seconds if rolls is not None else float(meta.get("frame_seconds", 0.25))
    write_midi(generated, midi, seconds)
    png = midi.with_suffix(".png")
    panels = [(f"generated: {args.length} frames after {min(prime_frames, len(real))} primed, {which} checkpoint",
               generated)]
    if len(real):
        panels.insert(0, (f"real: test sequence {args.piece % len(rolls.test)}", real))
    plot_rolls(png, panels, title=f"{run.path.name}: temperature {temperature:g}")
    print(f"wrote {midi} ({len(generated)} frames, {int(generated.sum())} key-frames sounding) and {png}")


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """``lstmkit eval`` of a music run: NLL per frame on each split of a .mat file (traindata, validdata,
    testdata), or on all sequences of a MIDI file or folder (read at the run's --frames-per-beat/--fs)."""
    model, cfg, meta, which = load_model(run.path, getattr(args, "checkpoint", "auto"))
    report = {"checkpoint": which, "data": str(data)}
    p = pathlib.Path(data)
    if p.is_dir() or p.suffix.lower() in (".mid", ".midi"):
        from .midi import midi_files, read_midi_roll
        if model.width != 88:
            raise ValueError(f"{run.path} models {model.width} keys per frame; MIDI is read as 88 piano keys, "
                             f"expected a run trained on 88-key rolls to score {data}")
        rolls = [read_midi_roll(f, cfg.frames_per_beat, cfg.fs) for f in midi_files(p)]
        rolls = [r for r in rolls if len(r) >= 2]
        if not rolls:
            raise ValueError(f"{data} holds no piece of 2 frames or more; expected music to score")
        nll, frames = split_nll(model, rolls, cfg.eval_batch_size)
        report.update({"nll": round(nll, 5), "frames": frames, "sequences": len(rolls)})
        print(f"{run.path} ({which} checkpoint) on {data}: NLL {nll:.4f} nats/frame over {frames:,} frames of "
              f"{len(rolls)} piece(s)")
        return report
    rolls = load_rolls(str(p), width=model.width)
    print(f"{run.path} ({which} checkpoint) on {data}:")
    for name in ("train", "valid", "test"):
        nll, frames = split_nll(model, rolls.split(name), cfg.eval_batch_size)
        report[f"{name}_nll"], report[f"{name}_frames"] = round(nll, 5), frames
        print(f"  {name:5s} NLL {nll:.4f} nats/frame ({frames:,} frames, {len(rolls.split(name))} sequences)")
    return report
