"""``lstmkit train tagger`` and ``lstmkit tag``: flags onto :class:`TaggerConfig`, then the jobs."""

from __future__ import annotations

import argparse
import sys

from ..runs import add_train_command
from .config import TaggerConfig
from .jobs import load_taggers, resume, tag_sentences, train

TRAIN_HELP = """\
Train a part-of-speech (or any CoNLL-U column) tagger: each word is its embedding plus a character BiLSTM
encoding (so unseen words get tagged from their spelling), a 2-layer BiLSTM reads the sentence, and a
softmax tags every word. With no --train it learns the two sentences of PyTorch's LSTMTagger example
("The dog ate the apple", "Everybody read that book") in seconds. A run is a folder (--out): config.json,
metrics.jsonl, loss.png, checkpoints/ (last and best by dev accuracy). Ctrl-C saves; --resume continues.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train tagger --max-steps 100
  lstmkit train tagger --train en_ewt-ud-train.conllu --dev en_ewt-ud-dev.conllu --max-time 20m \\
      --decay-by time --out runs/ewt
  lstmkit tag runs/ewt < sentences.txt
  lstmkit eval runs/ewt --data en_ewt-ud-dev.conllu
  lstmkit eval runs/ewt runs/ewt-seed1 --data en_ewt-ud-dev.conllu     # an ensemble of two runs
"""

TAG_HELP = """\
Tag text from stdin with a trained tagger run: one sentence per line, words separated by spaces (already
tokenised); blank lines are skipped. Writes one line per sentence, word/TAG separated by spaces, or CoNLL-U
with --conllu. Words the model never saw are tagged from their characters. Several runs make an ensemble:
each tags the text, and every word gets the tag of the mean of their distributions.
"""


def read_stdin_text() -> str:
    """Standard input as UTF-8 text, as the training data is read: refuses other encodings and binary data,
    naming the line."""
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:                                             # a text stream (tests, notebooks)
        text = sys.stdin.read()
    else:
        data = raw.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise ValueError(f"stdin is not UTF-8 text: byte {data[e.start]:#04x} on line {line}; expected "
                             f"UTF-8, as the training data (convert it, e.g. with iconv)") from None
    if "\x00" in text:
        raise ValueError(f"stdin holds binary data (a NUL byte on line {text[: text.index(chr(0))].count(chr(10)) + 1}); "
                         f"expected text, one sentence per line")
    return text


def _tag(args: argparse.Namespace) -> None:
    sentences = [line.split() for line in read_stdin_text().splitlines() if line.strip()]
    if not sentences:
        raise ValueError("stdin holds no sentence; expected one sentence per line, words separated by spaces")
    loaded = load_taggers(args.run, args.checkpoint)
    cfg = loaded[0][2]
    tags = tag_sentences([(model, vocab) for model, vocab, _ in loaded], None, sentences)
    lines = []
    for words, ts in zip(sentences, tags):
        if args.conllu:
            col = ("upos", "xpos").index(cfg.column) if cfg.column in ("upos", "xpos") else None
            for i, (w, t) in enumerate(zip(words, ts), 1):
                cells = [str(i), w] + ["_"] * 8
                cells[3 + (col if col is not None else 6)] = t
                lines.append("\t".join(cells))
            lines.append("")
        else:
            lines.append(" ".join(f"{w}/{t}" for w, t in zip(words, ts)))
    sys.stdout.write("\n".join(lines) + "\n")


def register(commands, train_commands) -> None:
    """Add ``lstmkit train tagger`` and ``lstmkit tag`` to the command line.

    Example (the two-sentence demo, then tagging a new sentence)::

        >>> import contextlib, io, sys, tempfile
        >>> from lstmkit.cli import main
        >>> run = tempfile.mkdtemp() + "/run"
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "tagger", "--out", run, "--max-steps", "60", "--eval-every", "30", "--lr", "0.01",
        ...                  "--warmup-steps", "0", "--hidden", "32", "--char-hidden", "16"])
        >>> code, "stopped at step 60" in out.getvalue()
        (0, True)
        >>> sys.stdin = io.StringIO("Everybody ate the book\\n")
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["tag", run])
        >>> sys.stdin = sys.__stdin__
        >>> code, out.getvalue()
        (0, 'Everybody/NN ate/V the/DET book/NN\\n')
    """
    add_train_command(train_commands, TaggerConfig, train, resume, "part-of-speech tagger (any CoNLL-U column)",
                      TRAIN_HELP, TRAIN_EPILOG)

    t = commands.add_parser("tag", help="tag text (one sentence per line) with a trained tagger run (or an ensemble)",
                            description=TAG_HELP, epilog="examples:\n  echo 'I saw her duck' | lstmkit tag runs/ewt\n"
                                   "  lstmkit tag runs/ewt-seed0 runs/ewt-seed1 runs/ewt-seed2 < sentences.txt",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("run", metavar="RUN_DIR", nargs="+",
                   help="a run folder made by lstmkit train tagger; several runs tag as an ensemble (the mean of "
                        "their tag distributions), e.g. the same recipe trained with different --seed")
    t.add_argument("--checkpoint", choices=("auto", "best", "last"), default="auto",
                   help="which checkpoint (default: auto = best if there is one, else last)")
    t.add_argument("--conllu", action="store_true", help="write CoNLL-U (the tag in the run's column)")
    t.set_defaults(func=_tag)
