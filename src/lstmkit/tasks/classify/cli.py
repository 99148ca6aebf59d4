"""``lstmkit train classify``: flags onto :class:`ClassifyConfig`, then the job."""

from __future__ import annotations

from ..runs import add_train_command
from .config import ClassifyConfig
from .jobs import resume, train

TRAIN_HELP = """\
Train a sequence classifier (one label per sequence): text read as characters or words, or numeric
sequences, through a recurrent stack, pooled (last state, mean, max or attention) into class scores.
--data: CSV/TSV/JSONL (text,label columns), CSV of numbers (label column, one step per other column), .npy with
--labels, or CoNLL-U (label = the sent_id prefix: the genre of UD English EWT). With no --data it learns
generated noisy waves (sine, square, sawtooth, triangle). Metrics: accuracy and macro-F1 on the dev set.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train classify --max-steps 300
  lstmkit train classify --data reviews.csv --tokens word --class-weights --max-time 5m --out runs/reviews
  lstmkit train classify --data en_ewt-ud-train.conllu --dev en_ewt-ud-dev.conllu --tokens word
  lstmkit train classify --data sst2/train.tsv --dev sst2/dev.tsv --text-column sentence --tokens word \\
      --members 3 --embed 128 --hidden 256 --dropout 0.5 --word-dropout 0.1 --ema 0.999 \\
      --max-time 15m --decay-by time --max-steps 10000000 --out runs/sst2     # sentiment: docs/sentiment.md
  lstmkit eval runs/reviews --data test.csv
  lstmkit eval runs/sst2 runs/sst2-seed1 --data test.tsv                      # runs averaged: an ensemble
"""


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
    add_train_command(train_commands, ClassifyConfig, train, resume,
                      "sequence classifier (text or numeric sequences)", TRAIN_HELP, TRAIN_EPILOG)
