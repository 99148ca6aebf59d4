"""What the translate commands do, callable from Python: train (or resume) a run, load it as a
:class:`Translator`, score held-out pairs (BLEU, chrF, exact match, by source length) and draw attention."""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass
from typing import IO, Optional

from ...seq2seq import Seq2Seq
from ...train import CheckpointError, RunDir, TrainResult
from ...train.atomic import write_json
from ..runs import fit_run, open_checkpoint
from ..seq2seq_jobs import decode_all, text_scores
from .config import TranslateConfig
from .corpus import bleu_tokenizer
from .data import Pairs
from .model import build_translator
from .task import TranslateTask
from .vocab import Vocab, detokenize, pad_batch, tokenize

__all__ = ["train", "resume", "load_translator", "Translator", "test_report", "scores_by_length",
           "draw_alignments"]


def train(cfg: TranslateConfig, out: Optional[str | pathlib.Path] = None, stream: Optional[IO] = None) -> TrainResult:
    """Train a new run into ``out`` (default ``runs/translate-<timestamp>``), then score the test pairs with the
    best checkpoint into ``RUN_DIR/test.json`` (the pairs themselves into ``RUN_DIR/test-pairs.tsv``, for
    ``lstmkit eval``) and draw attention into ``RUN_DIR/attention/``.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.translate import TranslateConfig, train
        >>> cfg = TranslateConfig(max_number=500, val_size=8, test_size=8, max_steps=3, eval_every=3, hidden=8,
        ...                       decoder_hidden=16, embed=8, batch_size=4, beam=2)
        >>> train(cfg, tempfile.mkdtemp() + "/run", stream=open("/dev/null", "w")).step
        3
    """
    task = TranslateTask(cfg)
    return fit_run(task, out, stream=stream, then=_final_test)[0]


def resume(run_path: str | pathlib.Path, cfg: TranslateConfig, stream: Optional[IO] = None) -> TrainResult:
    """Continue run ``run_path`` exactly from its ``last`` checkpoint."""
    return fit_run(TranslateTask(cfg), resume=run_path, stream=stream, then=_final_test)[0]


@dataclass
class Translator:
    """A trained model with its vocabularies: text in, text out.

    Example::

        >>> import tempfile
        >>> from lstmkit.tasks.translate import TranslateConfig, train, load_translator
        >>> run = tempfile.mkdtemp() + "/run"
        >>> _ = train(TranslateConfig(max_number=500, val_size=8, test_size=0, max_steps=2, hidden=8, embed=8,
        ...                           decoder_hidden=16, batch_size=4), run, stream=open("/dev/null", "w"))
        >>> out = load_translator(run).translate(["ninety-seven"], beam=2)
        >>> sorted(out[0])
        ['score', 'source_tokens', 'target_tokens', 'text', 'weights']
    """

    model: Seq2Seq
    source_vocab: Vocab
    target_vocab: Vocab
    modes: tuple[str, str]
    max_len: int

    def translate(self, texts: list[str], beam: int = 5, alpha: float = 0.6, attention: bool = False,
                  batch: int = 128, max_len: Optional[int] = None) -> list[dict]:
        """One dict per text: ``text`` (the translation), ``score``, ``source_tokens``, ``target_tokens`` and
        ``weights`` (attention ``(target tokens + 1, source tokens)``, with ``attention=True``); at most
        ``max_len`` tokens each (default: the run's)."""
        device = next(self.model.parameters()).device
        src_tokens = [tokenize(t, self.modes[0]) for t in texts]
        ids = [self.source_vocab.encode(t, eos=False) for t in src_tokens]
        empty = [i for i, row in enumerate(ids) if not row]
        if empty:
            raise ValueError(f"text {empty[0] + 1} is empty; expected something to translate on every line")
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = decode_all(self.model, len(ids), lambda idx: _on(pad_batch([ids[i] for i in idx]), device),
                         max_len or self.max_len, beam=beam, alpha=alpha, attention=attention, batch=batch, order=order)
        res = []
        for i, toks in enumerate(out.tokens):
            words = self.target_vocab.decode(toks)
            w = out.weights[i] if out.weights is not None else None        # None: a model without attention
            res.append({"text": detokenize(words, self.modes[1]), "score": out.scores[i],
                        "source_tokens": src_tokens[i], "target_tokens": words,
                        "weights": w[:, :len(ids[i])] if w is not None else None})
        return res


def _on(batch: tuple, device) -> tuple:
    """``(ids, lengths)`` with the ids on ``device`` (lengths stay on the CPU, as the layers read them)."""
    return batch[0].to(device), batch[1]


def load_translator(run_path: str | pathlib.Path, checkpoint: str = "auto", device: str = "cpu") -> Translator:
    """A translate run's model (in eval mode) and vocabularies; ``checkpoint``: best, last or auto."""
    cfg, state, checkpoint = open_checkpoint(run_path, TranslateConfig, checkpoint)
    try:
        meta = state["meta"]
        src, tgt = Vocab.from_json(meta["source_vocab"]), Vocab.from_json(meta["target_vocab"])
        model = build_translator(cfg, len(src), len(tgt))
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {checkpoint} of {run_path} does not match the run's config.json: "
                              f"{str(e).splitlines()[0]}") from None
    return Translator(model.to(device).eval(), src, tgt, tuple(meta["modes"]), int(meta["max_target_len"]))


def scores_by_length(sources: list[list[str]], hypotheses: list[str], references: list[str],
                     buckets: int = 8, tokenize_bleu: str = "13a") -> list[dict]:
    """Exact match and BLEU per bucket of source length (tokens): ``[{"length": mean length, "pairs", "exact",
    "bleu"}]``, buckets of about equal width over the lengths present (Bahdanau et al. 2015, figure 2)."""
    lengths = [len(s) for s in sources]
    lo, hi = min(lengths), max(lengths)
    width = max(1, -(-(hi - lo + 1) // buckets))
    rows = []
    for start in range(lo, hi + 1, width):
        idx = [i for i, n in enumerate(lengths) if start <= n < start + width]
        if idx:
            s = text_scores([hypotheses[i] for i in idx], [references[i] for i in idx], tokenize=tokenize_bleu)
            rows.append({"length": sum(lengths[i] for i in idx) / len(idx), "pairs": len(idx),
                         "exact": s["exact"], "bleu": s["bleu"]})
    return rows


def draw_alignments(translations: list[dict], folder: pathlib.Path, count: int = 4) -> list[pathlib.Path]:
    """Attention heatmaps (source tokens x emitted tokens) of the first ``count`` translations made with
    ``attention=True``, as ``folder/alignment-<k>.png``."""
    from ...inspect.attention import plot_alignment
    paths = []
    for k, tr in enumerate(t for t in translations if t["weights"] is not None):
        if k == count:
            break
        folder.mkdir(parents=True, exist_ok=True)
        paths.append(plot_alignment(tr["weights"], tr["source_tokens"], tr["target_tokens"] + ["<eos>"],
                                    folder / f"alignment-{k}.png", title=tr["text"][:60]))
    return paths


def test_report(translator: Translator, pairs: Pairs, beam: int, alpha: float) -> dict:
    """Greedy and beam scores on ``pairs``, scores by source length, examples (with attention kept)."""
    greedy = translator.translate(pairs.sources, beam=1)
    beamed = translator.translate(pairs.sources, beam=beam, alpha=alpha, attention=True)
    tok = bleu_tokenizer(translator.modes[1])
    g = text_scores([t["text"] for t in greedy], pairs.targets, tokenize=tok)
    b = text_scores([t["text"] for t in beamed], pairs.targets, tokenize=tok)
    by_length = scores_by_length([t["source_tokens"] for t in beamed], [t["text"] for t in beamed], pairs.targets,
                                 tokenize_bleu=tok)
    examples = [{"source": s, "reference": r, "greedy": gt["text"], "beam": bt["text"]}
                for s, r, gt, bt in list(zip(pairs.sources, pairs.targets, greedy, beamed))[:10]]
    return {"pairs": len(pairs), "beam": beam, "length_alpha": alpha,
            "greedy": {k: g[k] for k in ("exact", "bleu", "chrf")},
            "beam_search": {k: b[k] for k in ("exact", "bleu", "chrf")},
            "by_source_length": by_length, "examples": examples, "_translations": beamed}


def _final_test(task: TranslateTask, run: RunDir, cfg: TranslateConfig, stream: Optional[IO]) -> None:
    if not cfg.test_size or not len(task.corpus.pairs.get("test", ())):
        return
    translator = load_translator(run.path)
    report = test_report(translator, task.corpus.pairs["test"], cfg.beam, cfg.length_alpha)
    pictures = draw_alignments(report.pop("_translations"), run.path / "attention")
    task.corpus.pairs["test"].to_tsv(run.path / "test-pairs.tsv")
    write_json(run.path / "test.json", report)
    b = report["beam_search"]
    drawn = f" and {len(pictures)} attention pictures in {run.path / 'attention'}" if pictures else ""
    print(f"test ({report['pairs']} held-out pairs, beam {cfg.beam}): exact match {b['exact']:.4f}, BLEU "
          f"{b['bleu']:.2f}, chrF {b['chrf']:.2f} (greedy: exact {report['greedy']['exact']:.4f}); wrote "
          f"{run.path / 'test.json'}{drawn}",
          file=stream or sys.stdout)
