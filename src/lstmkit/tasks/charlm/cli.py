"""``lstmkit train charlm`` and ``lstmkit sample``: flags onto :class:`CharLMConfig`, then the jobs."""

from __future__ import annotations

import argparse
import math
import sys

from ...train import RunDir
from ..evaluate import register_evaluator
from ..sampling import sampler_for
from ..runs import add_run_args, run_train_command
from .config import CharLMConfig
from .jobs import load_model, resume, sample_text, train
from .task import stream_loss
from .text import read_text

TRAIN_HELP = """\
Train a character-level language model: it reads a text one character at a time, learns to predict the
next, and writes new text in the same style. With no --text it trains on Python's documentation topics
(pydoc_data.topics, shipped with Python). A run is a folder (--out): config.json, metrics.jsonl,
loss.png, samples/, checkpoints/ (last and best). Ctrl-C saves; --resume RUN_DIR continues exactly.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train charlm --max-time 3m
  lstmkit train charlm --text input.txt --hidden 512 --layer-norm --out runs/shakespeare
  lstmkit train charlm --resume runs/shakespeare --max-time 1h
  lstmkit sample runs/shakespeare --prime "ROMEO:" --length 500
"""

SAMPLE_HELP = """\
Write text from a trained charlm run to stdout, one character at a time as it is produced. The prime is
read in one pass, then each new character goes through the network with the recurrent state carried
(layer.step), so the prefix is never run again.
"""


def _sample(args: argparse.Namespace) -> None:
    run = RunDir.open(args.run)
    other = sampler_for(run, CharLMConfig.task)                              # a music run: its own sampler
    if other is not None:
        other(run, args)
        return
    for flag in ("midi", "prime_frames", "data"):
        if getattr(args, flag, None) is not None:
            raise ValueError(f"--{flag.replace('_', '-')} is for music runs; {args.run} is a charlm run (it takes "
                             f"--prime text)")
    if args.temperature is None:
        args.temperature = 0.8
    model, vocab, _ = load_model(args.run, args.checkpoint)
    prime = args.prime if args.prime is not None else ("\n" if "\n" in vocab.index else vocab.chars[1])
    chars = sample_text(model, vocab, prime, args.length, args.temperature, args.top_k, args.seed, args.unknown)
    out = sys.stdout
    out.write(prime)
    for ch in chars:
        out.write(ch)
        out.flush()
    out.write("\n")
    out.flush()


def evaluate_run(run, data: str, args: argparse.Namespace) -> dict:
    """``lstmkit eval`` of a charlm run: the mean next-character loss, bits per character and perplexity of
    the model on a text file (characters it never saw are read as <unk>, and counted)."""
    model, vocab, which = load_model(run.path, args.checkpoint)
    cfg = run.config(CharLMConfig)
    text = read_text(data, cfg.encoding)
    unknown = sum(1 for ch in text if ch not in vocab.index)
    loss = stream_loss(model, vocab.encode(text), cfg.eval_batch_size, max(cfg.bptt_len, 128), "cpu")
    report = {"checkpoint": which, "chars": len(text), "unknown_chars": unknown, "loss": round(loss, 6),
              "bpc": round(loss / math.log(2), 6), "perplexity": round(math.exp(loss), 4)}
    print(f"{run.path} ({which} checkpoint) on {data}: {len(text):,} characters ({unknown:,} never seen in "
          f"training, read as <unk>)")
    print(f"  loss {report['loss']:.4f} nats/char   {report['bpc']:.4f} bits/char   perplexity "
          f"{report['perplexity']:.3f}")
    return report


register_evaluator(CharLMConfig.task, evaluate_run)


def register(commands, train_commands) -> None:
    """Add ``lstmkit train charlm`` and ``lstmkit sample`` to the command line.

    Example (both commands, through :func:`lstmkit.cli.main`)::

        >>> import contextlib, io, tempfile
        >>> from lstmkit.cli import main
        >>> run = tempfile.mkdtemp() + "/run"
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "charlm", "--out", run, "--max-steps", "4", "--hidden", "16", "--layers", "1",
        ...                  "--batch-size", "4", "--seq-len", "16", "--eval-every", "2", "--eval-chars", "300"])
        >>> code, "stopped at step 4" in out.getvalue()
        (0, True)
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["sample", run, "--prime", "The ", "--length", "30", "--seed", "1"])
        >>> code, out.getvalue().startswith("The "), len(out.getvalue())
        (0, True, 35)
    """
    p = train_commands.add_parser("charlm", help="character-level language model (text generation)",
                                  description=TRAIN_HELP, epilog=TRAIN_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(p, CharLMConfig)
    p.set_defaults(func=lambda args: run_train_command(args, CharLMConfig, train, resume))

    s = commands.add_parser("sample", help="generate text from a trained charlm run (music runs: a MIDI file)",
                            description=SAMPLE_HELP,
                            epilog='example: lstmkit sample runs/charlm-20250101-120000 --prime "def " '
                                   '--temperature 0.7 --length 400 --seed 1',
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("run", metavar="RUN_DIR", help="a run folder made by lstmkit train charlm (or music)")
    s.add_argument("--prime", help="text to start from (default: a newline)")
    s.add_argument("--length", type=int, default=500, help="characters to generate (default: 500)")
    s.add_argument("--temperature", type=float, default=None,
                   help="below 1: safer, above 1: wilder, 0: always the most likely (default: 0.8; music runs "
                        "1.0)")
    s.add_argument("--top-k", type=int, default=0, help="draw only among the k most likely (default: 0, off)")
    s.add_argument("--seed", type=int, default=None, help="seed for a reproducible sample (default: random)")
    s.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                   help="which checkpoint (default: auto = best if there is one, else last)")
    s.add_argument("--unknown", choices=("error", "replace", "skip"), default="error",
                   help="characters of --prime outside the vocabulary: error (default), replace them with the "
                        "<unk> symbol, or skip them")
    s.set_defaults(func=_sample)
