"""``lstmkit train translate``, ``lstmkit translate`` and the ``lstmkit eval`` evaluator of translate runs."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ...train import RunDir
from ..evaluate import register_evaluator
from ..runs import add_train_command
from ..seq2seq_jobs import add_decoding_args, check_decoding_args
from ..tagger.cli import read_stdin_text
from .config import TranslateConfig
from .data import read_tsv_pairs
from .jobs import draw_alignments, load_translator, resume, test_report, train

TRAIN_HELP = """\
Sequence to sequence with attention: a bidirectional LSTM encoder reads the source, an LSTM decoder writes
the target one token at a time while attending over the encoder's outputs (additive, dot or general
attention; --attention none for the plain encoder-decoder). The default data are generated from language
data packages ship: numbers written out in English words -> French (num2words; --target-lang de for
German, whose "siebenundneunzig" crosses the alignment), or --data dates: dates written in several locales
-> ISO 8601 (babel's CLDR). --data FILE reads your own tab-separated pairs (source<TAB>target, the
Tatoeba/Anki export format). Held-out pairs are never trained on; the test scores (exact match, BLEU and
chrF from sacrebleu, by source length) land in RUN_DIR/test.json, attention heatmaps in RUN_DIR/attention/.
Needs: pip install 'lstmkit[seq2seq]'.
"""

TRAIN_EPILOG = """\
examples:
  lstmkit train translate --max-time 5m --out runs/fr
  lstmkit train translate --target-lang de --max-time 5m --out runs/de
  lstmkit train translate --data dates --max-time 5m --out runs/dates
  lstmkit train translate --data eng-fra.txt --max-length 10 --max-time 30m --out runs/eng-fra
  echo "four hundred and twelve" | lstmkit translate runs/fr --beam 5
  lstmkit eval runs/fr --data runs/fr/test-pairs.tsv
"""

TRANSLATE_HELP = """\
Translate text from stdin with a trained translate run: one source per line, one translation per line
out (blank lines are skipped). --attention DIR also draws each line's attention heatmap there.
"""


def _translate(args: argparse.Namespace) -> None:
    lines = [line.strip() for line in read_stdin_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError("stdin holds no text; expected one source sentence per line")
    check_decoding_args(args)
    translator = load_translator(args.run, args.checkpoint)
    out = translator.translate(lines, beam=args.beam, alpha=args.alpha, attention=bool(args.attention),
                               max_len=args.max_len)
    sys.stdout.write("".join(t["text"] + "\n" for t in out))
    if args.attention:
        paths = draw_alignments(out, pathlib.Path(args.attention), count=len(out))
        print(f"wrote {len(paths)} attention pictures in {args.attention}", file=sys.stderr)


def evaluate_run(run: RunDir, data: str, args: argparse.Namespace) -> dict:
    """The ``lstmkit eval`` evaluator of translate runs: ``--data`` is a file of tab-separated pairs."""
    cfg = run.config(TranslateConfig)
    translator = load_translator(run.path, getattr(args, "checkpoint", "auto"))
    pairs = read_tsv_pairs(data, reverse=cfg.reverse)
    beam = getattr(args, "beam", None) or cfg.beam
    report = test_report(translator, pairs, beam, cfg.length_alpha)
    translations = report.pop("_translations")
    folder = pathlib.Path(getattr(args, "out", None) or run.path / "eval")
    draw_alignments(translations, folder)
    g, b = report["greedy"], report["beam_search"]
    print(f"{run.path} on {data}: {len(pairs)} pairs")
    print(f"  exact match: greedy {g['exact']:.4f}   beam {beam} {b['exact']:.4f}")
    print(f"  BLEU {b['bleu']:.2f}   chrF {b['chrf']:.2f} (beam {beam})")
    for ex in report["examples"][:5]:
        print(f"  {ex['source']}  ->  {ex['beam']}")
    print(f"  attention pictures in {folder}")
    return {"pairs": len(pairs), "greedy": g, "beam_search": b, "by_source_length": report["by_source_length"]}


register_evaluator(TranslateConfig.task, evaluate_run)


def register(commands, train_commands) -> None:
    """Add ``lstmkit train translate`` and ``lstmkit translate`` to the command line.

    Example (train a tiny model on numbers, then translate a line)::

        >>> import contextlib, io, sys, tempfile
        >>> from lstmkit.cli import main
        >>> run = tempfile.mkdtemp() + "/run"
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["train", "translate", "--out", run, "--max-steps", "4", "--eval-every", "4",
        ...                  "--max-number", "300", "--val-size", "8", "--test-size", "8", "--hidden", "8",
        ...                  "--decoder-hidden", "16", "--batch-size", "4"])
        >>> code, "exact match" in out.getvalue()
        (0, True)
        >>> sys.stdin = io.StringIO("ninety-seven\\n")
        >>> with contextlib.redirect_stdout(io.StringIO()) as out:
        ...     code = main(["translate", run, "--beam", "2"])
        >>> sys.stdin = sys.__stdin__
        >>> code, len(out.getvalue().splitlines())
        (0, 1)
    """
    add_train_command(train_commands, TranslateConfig, train, resume,
                      "sequence to sequence with attention (numbers, dates, your own pairs)", TRAIN_HELP, TRAIN_EPILOG)
    t = commands.add_parser("translate", help="translate text (one sentence per line) with a trained translate run",
                            description=TRANSLATE_HELP,
                            epilog="examples:\n  echo 'ninety-seven' | lstmkit translate runs/fr\n"
                                   "  lstmkit translate runs/dates --beam 8 --attention pictures/ < dates.txt",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_decoding_args(t, "translate", "also draw each line's attention heatmap here")
    t.set_defaults(func=_translate)
