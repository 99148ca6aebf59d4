"""``lstmkit train classify``: flags onto :class:`ClassifyConfig`, then the job."""

from __future__ import annotations

import argparse

from ...train import RunDir, add_config_args, config_from_args, read_config_file
from .config import ClassifyConfig
from .jobs import resume, train

TRAIN_HELP = """\
Train a sequence classifier (one label per sequence): text read as characters or words, or numeric
sequences, through a recurrent stack, pooled (last state, mean, max or attention) into class scores.
--data: CSV/JSONL (text,label columns), CSV of numbers (label column, one step per other column), .npy with
--labels, or CoNLL-U (label = the sent_id prefix: the genre of UD English EWT). With no --data it learns
generated noisy waves (sine, square, sawtooth, triangle). Metrics: accuracy and macro-F1 on the dev set.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train classify --max-steps 300
  lstmkit train classify --data reviews.csv --tokens word --class-weights --max-time 5m --out runs/reviews
  lstmkit train classify --data en_ewt-ud-train.conllu --dev en_ewt-ud-dev.conllu --tokens word
  lstmkit eval runs/reviews --data test.csv
"""


def _train(args: argparse.Namespace) -> None:
    if args.resume:
        if args.out or args.config:
            raise ValueError("--resume continues a run in its own folder with its own config; expected no "
                             "--out or --config with it")
        run = RunDir.open(args.resume)
        result = resume(run.path, config_from_args(ClassifyConfig, args, run.config(ClassifyConfig).__dict__.copy()))
    else:
        base = read_config_file(args.config, ClassifyConfig.task) if args.config else None
        result = train(config_from_args(ClassifyConfig, args, base), args.out)
    if result.stopped_by == "done":
        print(f"{result.run} already reached --max-steps {result.step}; nothing to do")


def register(commands, train_commands) -> None:
    """Add ``lstmkit train classify`` to the command line.

    Example (the generated waves, then ``lstmkit eval`` on a CSV of numeric sequences)::

        >>> import contextlib, io, tempfile, pathlib
        >>> from lstmkit.cli import main
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "classify", "--out", str(d / "run"), "--max-steps", "20", "--eval-every", "10",
        ...                  "--hidden", "8", "--embed", "4"])
        >>> code, "stopped at step 20" in out.getvalue()
        (0, True)
        >>> _ = (d / "waves.csv").write_text("label,t1,t2,t3\\nsine,0,1,0\\nsquare,1,1,-1\\n")
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["eval", str(d / "run"), "--data", str(d / "waves.csv")])
        >>> code, "macro-F1" in out.getvalue()
        (0, True)
    """
    p = train_commands.add_parser("classify", help="sequence classifier (text or numeric sequences)",
                                  description=TRAIN_HELP, epilog=TRAIN_EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", metavar="RUN_DIR", help="run folder to create (default: runs/classify-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run exactly from its last checkpoint")
    p.add_argument("--config", metavar="FILE.json", help="settings from a JSON file (a run's config.json "
                                                         "works); flags override it")
    add_config_args(p, ClassifyConfig, "settings")
    p.set_defaults(func=_train)
