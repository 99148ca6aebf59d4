"""The tagger as a :class:`~lstmkit.train.TrainTask`: sentences, vocabulary, bucketed batches, loss, accuracy."""

from __future__ import annotations

import hashlib
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...train import TrainTask
from .config import TaggerConfig
from .conllu_io import Sentence, read_conllu
from .data import BucketSampler, CharCache, aux_ids, aux_tag_sets, demo_sentences, gold_tags, length_batches, make_batch
from .model import Tagger
from .vocab import UNK, TaggerVocab

__all__ = ["TaggerTask", "load_data"]


def load_data(cfg: TaggerConfig) -> tuple[list[Sentence], list[Sentence], str, str]:
    """(train sentences, dev sentences, train name, dev name) that ``cfg`` describes."""
    if not cfg.train:
        demo = demo_sentences(cfg.column)
        return demo, demo, "<demo>", "<demo>"
    columns = (cfg.column, *cfg.aux_columns)
    train = read_conllu(cfg.train, columns)
    if cfg.dev:
        return train, read_conllu(cfg.dev, columns), cfg.train, cfg.dev
    n_dev = int(round(len(train) * cfg.dev_fraction))
    if n_dev < 1 or n_dev >= len(train):
        raise ValueError(f"{cfg.train} has {len(train)} sentences; --dev-fraction {cfg.dev_fraction} leaves "
                         f"{len(train) - n_dev} for training and {n_dev} for dev, expected >= 1 each (or give --dev)")
    return train[:-n_dev], train[-n_dev:], cfg.train, f"{cfg.train} (last {n_dev} sentences)"


class TaggerTask(TrainTask):
    """Reads the CoNLL-U data (or the demo), builds the vocabulary from the training sentences and trains
    :class:`Tagger` on length-bucketed batches with word dropout; evaluates dev accuracy.

    Example::

        >>> from lstmkit.tasks.tagger import TaggerConfig, TaggerTask
        >>> task = TaggerTask(TaggerConfig())                   # the two demo sentences
        >>> task.vocab.tags, len(task.train_words)
        (['DET', 'NN', 'V'], 2)
    """

    unit = "words"
    monitor = "val_error"
    loss_label = "loss (nats/word)"

    def __init__(self, config: TaggerConfig, data: Optional[tuple] = None) -> None:
        super().__init__(config)
        train, dev, train_name, dev_name = data or load_data(config)
        self.train_name, self.dev_name = train_name, dev_name
        self.vocab = TaggerVocab.build([s.words for s in train], [s.column(config.column) for s in train],
                                       config.min_count, config.lowercase)
        self.chars = CharCache(self.vocab)
        self.train_words = [s.words for s in train]
        self.train_ids = [self.vocab.word_ids(s.words) for s in train]
        self.train_tags = gold_tags(train, config.column, self.vocab, train_name)
        self.aux_tags = aux_tag_sets(train, config.aux_columns)                # multi-task: extra columns
        for column, tags in zip(config.aux_columns, self.aux_tags):
            if not tags:
                raise ValueError(f"{train_name}: --aux-columns {column}: the column holds no tags (only '_'); "
                                 f"expected a column with values to learn")
        self.train_aux = aux_ids(train, config.aux_columns, self.aux_tags) if config.aux_columns else None
        self.dev_words = [s.words for s in dev]
        self.dev_tags = gold_tags(dev, config.column, self.vocab, dev_name)
        self.sampler = BucketSampler([len(w) for w in self.train_words], config.batch_size, config.seed + 1)
        self.g = torch.Generator().manual_seed(config.seed + 2)                 # word dropout
        self.device = torch.device(config.device)
        digest = hashlib.sha256()
        for s in train:
            digest.update(("\t".join(s.words) + "\n" + "\t".join(s.column(config.column)) + "\n").encode())
        self.data_sha256 = digest.hexdigest()
        self._dev_batches = None

    # ------------------------------------------------------------------------------------- model
    def build_model(self) -> nn.Module:
        v = self.vocab
        return Tagger(len(v.words), len(v.chars), len(v.tags), self.config, [len(t) for t in self.aux_tags])

    unused_parameters = True          # an auxiliary head gets no gradient from a batch without its labels

    def train_step(self, model: Tagger, step: int) -> tuple[Tensor, int]:
        idx = self.sampler.next()
        ids = [self.train_ids[i] for i in idx]
        p = self.config.word_dropout
        if p > 0:
            unk = self.vocab.word_index[UNK]
            ids = [torch.where(torch.rand(len(w), generator=self.g) < p, unk, w) for w in ids]
        aux = None if self.train_aux is None else [self.train_aux[i] for i in idx]
        part = self.shard.part(len(idx), "batch of --batch-size sentences")       # this rank's sentences
        idx, ids, aux = idx[part], ids[part], None if aux is None else aux[part]
        batch = make_batch([self.train_words[i] for i in idx], self.vocab, [self.train_tags[i] for i in idx],
                           self.chars, ids, aux).to(self.device)
        logits, aux_logits = model.aux_logits(batch)                             # (T, B, K), [] without aux
        smooth = self.config.label_smoothing
        loss = F.cross_entropy(logits.flatten(0, 1), batch.tags.flatten(), ignore_index=-100, label_smoothing=smooth)
        for a, extra in enumerate(aux_logits):                                    # (T, B, K_a) each
            gold = batch.aux_tags[:, :, a].flatten()                              # -100: no label here
            n = int((gold != -100).sum())
            if n:                                                                 # (a batch may have none)
                loss = loss + self.config.aux_weight / n * F.cross_entropy(
                    extra.flatten(0, 1), gold, ignore_index=-100, reduction="sum", label_smoothing=smooth)
        return loss, int(batch.lengths.sum())

    def dev_batches(self) -> list:
        if self._dev_batches is None:
            self._dev_batches = [make_batch([self.dev_words[i] for i in b], self.vocab,
                                            [self.dev_tags[i] for i in b], self.chars).to(self.device)
                                 for b in length_batches([len(w) for w in self.dev_words],
                                                         self.config.eval_batch_size)]
        return self._dev_batches

    sharded_evaluation = True         # under torchrun each rank scores every W-th dev batch

    def evaluate(self, model: Tagger) -> dict[str, float]:
        loss_sum, correct, total = 0.0, 0, 0
        for batch in self.dev_batches()[self.shard.rank::self.shard.world]:
            logits = model(batch)                                                  # (T, B, K)
            gold = batch.tags.flatten()
            loss_sum += F.cross_entropy(logits.flatten(0, 1), gold, ignore_index=-100, reduction="sum").item()
            mask = gold != -100
            correct += int((logits.flatten(0, 1).argmax(1)[mask] == gold[mask]).sum())
            total += int(mask.sum())
        loss_sum, correct, total = self.shard.all_sum([loss_sum, correct, total])
        acc = correct / total
        return {"val_loss": round(loss_sum / total, 6), "val_acc": round(acc, 6), "val_error": round(1 - acc, 6)}

    # ------------------------------------------------------------------------------------- state
    def metadata(self) -> dict:
        return {"vocab": self.vocab.to_json(), "data_sha256": self.data_sha256, "column": self.config.column,
                "aux_tags": [[c, t] for c, t in zip(self.config.aux_columns, self.aux_tags)],
                "train_sentences": len(self.train_words), "dev_sentences": len(self.dev_words)}

    def state_dict(self) -> dict:
        return {"sampler": self.sampler.state_dict(), "g": self.g.get_state(), "data_sha256": self.data_sha256}

    def load_state_dict(self, state: dict) -> None:
        self.check_same_data(state, self.data_sha256)
        self.sampler.load_state_dict(state["sampler"])
        self.g.set_state(state["g"])
