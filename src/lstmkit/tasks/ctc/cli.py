"""``lstmkit train ctc``, ``lstmkit ctc-lines`` and the ``lstmkit eval`` evaluator of ctc runs."""

from __future__ import annotations

import argparse

import torch

from ...train import RunDir
from ..evaluate import register_evaluator
from ..runs import add_run_args, run_train_command
from .config import CTCConfig
from .jobs import load_model, resume, test_report, train
from .lines import DigitPools, LineSpec, load_lines, make_lines, save_lines
from .task import N_LABELS

TRAIN_HELP = """\
Temporal labelling with CTC: a sequence goes in, a label string comes out, and where each label sits is
never given. The default data are lines of handwritten digits built from scikit-learn's bundled 8x8 digits
(several digits side by side, random gaps, noise), read column by column; the model (BiLSTM -> per-step
scores over blank + 10 digits) learns with torch's CTC loss and reads with greedy or prefix beam-search
decoding. Held-out lines use digit images never seen in training; the test CER lands in RUN_DIR/test.json.
Needs scikit-learn: pip install 'lstmkit[ctc]'.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train ctc --max-time 5m --out runs/digits
  lstmkit ctc-lines --out test.npz --split test --lines 1000
  lstmkit eval runs/digits --data test.npz --beam 16
"""


def _train(args: argparse.Namespace) -> None:
    run_train_command(args, CTCConfig, train, resume)


def _lines(args: argparse.Namespace) -> None:
    spec = LineSpec(args.min_digits, args.max_digits, args.min_gap, args.max_gap, args.noise)
    if args.lines < 1:
        raise ValueError(f"--lines must be >= 1, got {args.lines}")
    spec.validate()
    from ...train.atomic import check_output
    check_output(args.out)
    pools = DigitPools.load()
    lines = make_lines(pools.images[args.split], pools.labels[args.split], args.lines, spec,
                       torch.Generator().manual_seed(args.seed))
    save_lines(lines, args.out)
    print(f"wrote {args.lines} lines of the {args.split} pool to {args.out}; first: {lines.strings()[0]}")


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """The ``lstmkit eval`` evaluator of ctc runs: ``--data`` is a ``.npz`` of lines (``lstmkit ctc-lines``)."""
    model, which = load_model(run.path, getattr(args, "checkpoint", "auto"))
    lines = load_lines(data)
    bad = lines.targets[lines.targets >= N_LABELS]
    if bad.numel():
        raise ValueError(f"{data}: label {int(bad[0])} was never seen in training; expected labels 0..{N_LABELS - 1}")
    beam = getattr(args, "beam", 8) or 8
    report = test_report(model, lines, beam)
    print(f"{run.path} ({which} checkpoint) on {data}: {len(lines)} lines")
    print(f"  CTC loss {report['loss']:.4f} nats/line")
    print(f"  CER greedy {report['cer_greedy']:.4f}   beam {beam} {report['cer_beam']:.4f}")
    print(f"  lines read exactly: greedy {report['line_accuracy_greedy']:.3f}   "
          f"beam {report['line_accuracy_beam']:.3f}")
    for ex in report["examples"][:5]:
        print(f"  {ex['reference']:>8} -> {ex['beam']}")
    return {k: v for k, v in report.items() if k != "examples"}


register_evaluator(CTCConfig.task, evaluate_run)


def register(commands, train_commands) -> None:
    """Add ``lstmkit train ctc`` and ``lstmkit ctc-lines`` to the command line.

    Example (make held-out lines, train a tiny model, evaluate it)::

        >>> import contextlib, io, tempfile
        >>> from lstmkit.cli import main
        >>> d = tempfile.mkdtemp()
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     codes = [main(["ctc-lines", "--out", d + "/test.npz", "--lines", "6"]),
        ...              main(["train", "ctc", "--out", d + "/run", "--max-steps", "2", "--hidden", "8",
        ...                    "--layers", "1", "--batch-size", "4", "--val-lines", "6", "--test-lines", "0",
        ...                    "--backend", "reference"]),
        ...              main(["eval", d + "/run", "--data", d + "/test.npz"])]
        >>> codes, "CER greedy" in out.getvalue()
        ([0, 0, 0], True)
    """
    p = train_commands.add_parser("ctc", help="label sequences without alignment (CTC): handwritten digit lines",
                                  description=TRAIN_HELP, epilog=TRAIN_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_args(p, CTCConfig)
    p.set_defaults(func=_train)

    d = LineSpec()
    s = commands.add_parser("ctc-lines", help="write handwritten digit lines (.npz) for lstmkit eval",
                            description="Write lines of handwritten digits (the CTC job's data) to a .npz file: "
                                        "x (lines, steps, 8), lengths, targets (padded with -1), target_lengths. "
                                        "--split test uses digit images no training run sees.",
                            epilog="example: lstmkit ctc-lines --out test.npz --split test --lines 1000")
    s.add_argument("--out", required=True, metavar="FILE.npz", help="file to write")
    s.add_argument("--split", choices=("train", "val", "test"), default="test", help="image pool (default: test)")
    s.add_argument("--lines", type=int, default=1000, help="number of lines (default: 1000)")
    s.add_argument("--seed", type=int, default=2, help="seed of the drawing (default: 2, the test lines of "
                                                       "lstmkit train ctc)")
    for name in ("min_digits", "max_digits", "min_gap", "max_gap"):
        s.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name),
                       help=f"(default: {getattr(d, name)})")
    s.add_argument("--noise", type=float, default=d.noise, help=f"pixel noise (default: {d.noise})")
    s.set_defaults(func=_lines)
