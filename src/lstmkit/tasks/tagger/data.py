"""Tagged sentences as tensors, the two-sentence demo, and batches bucketed by length."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from .conllu_io import Sentence
from .model import Batch
from .vocab import TaggerVocab

__all__ = ["demo_sentences", "make_batch", "gold_tags", "aux_tag_sets", "aux_ids", "length_batches", "BucketSampler"]

#: columns where ``_`` means "no tag" rather than a class
UNTAGGED_MARK = {"upos": "_", "xpos": "_"}

#: PyTorch's LSTMTagger tutorial data: DET determiner, NN noun, V verb
DEMO = [("The dog ate the apple", "DET NN V DET NN"), ("Everybody read that book", "NN V DET NN")]


def demo_sentences(column: str = "upos") -> list[Sentence]:
    """The two sentences of PyTorch's LSTMTagger example, tagged in ``column``.

    Example::

        >>> from lstmkit.tasks.tagger.data import demo_sentences
        >>> [(s.words, s.column("upos")) for s in demo_sentences()][1]
        (['Everybody', 'read', 'that', 'book'], ['NN', 'V', 'DET', 'NN'])
    """
    return [Sentence(w.split(), {column: t.split()}, {"sent_id": f"demo-{i + 1}"}, line=i + 1,
                     lines=[i + 1] * len(w.split())) for i, (w, t) in enumerate(DEMO)]


def gold_tags(sentences: Sequence[Sentence], column: str, vocab: TaggerVocab, where: str) -> list[torch.Tensor]:
    """Tag ids of every sentence; a tag the training data lacks, or ``_`` (no tag) in UPOS / XPOS, is refused
    with its file and line."""
    out = []
    for s in sentences:
        tags = s.column(column)
        for tag, word, line in zip(tags, s.words, s.lines):
            if tag not in vocab.tag_index or tag == UNTAGGED_MARK.get(column):
                what = "has no tag ('_')" if tag == "_" else f"has tag {tag!r}, which training never saw"
                raise ValueError(f"{where}:{line}: word {word!r} {what}; expected one of the {len(vocab.tags)} "
                                 f"{column.upper()} tags of the training data: {' '.join(vocab.tags)}")
        out.append(vocab.tag_ids(tags))
    return out


def aux_tag_sets(sentences: Sequence[Sentence], columns: Sequence[str]) -> list[list[str]]:
    """The values of each auxiliary column in ``sentences`` (training data), sorted; ``_`` (no tag) in UPOS
    or XPOS is not a class."""
    return [sorted({t for s in sentences for t in s.column(c)} - {UNTAGGED_MARK.get(c)}) for c in columns]


def aux_ids(sentences: Sequence[Sentence], columns: Sequence[str],
            tag_sets: Sequence[Sequence[str]]) -> list[torch.Tensor]:
    """(n, A) ids per sentence of the auxiliary columns; a value outside the training set is -100 (no loss).

    Example::

        >>> from lstmkit.tasks.tagger.data import aux_ids, aux_tag_sets, demo_sentences
        >>> sents = demo_sentences("xpos")
        >>> sets = aux_tag_sets(sents[:1], ["xpos"])
        >>> sets, aux_ids(sents, ["xpos"], sets)[1].T.tolist()
        ([['DET', 'NN', 'V']], [[1, 2, 0, 1]])
    """
    index = [{t: i for i, t in enumerate(tags)} for tags in tag_sets]
    out = []
    for s in sentences:
        rows = [[index[a].get(t, -100) for a, t in enumerate(row)] for row in zip(*(s.column(c) for c in columns))]
        out.append(torch.tensor(rows, dtype=torch.long))                          # (n, A)
    return out


class CharCache:
    """Character ids of each word form, computed once."""

    def __init__(self, vocab: TaggerVocab) -> None:
        self.vocab, self.cache = vocab, {}

    def __call__(self, word: str) -> torch.Tensor:
        ids = self.cache.get(word)
        if ids is None:
            ids = self.cache[word] = self.vocab.char_ids(word)
        return ids


def make_batch(sentences: Sequence[Sequence[str]], vocab: TaggerVocab, tags: Optional[Sequence[torch.Tensor]] = None,
               chars: Optional[CharCache] = None, word_ids: Optional[Sequence[torch.Tensor]] = None,
               aux_tags: Optional[Sequence[torch.Tensor]] = None) -> Batch:
    """Pad ``sentences`` (lists of words) into a :class:`Batch`; each distinct form is char-encoded once.
    ``tags``: (n,) ids per sentence; ``aux_tags``: (n, A) ids of the auxiliary columns per sentence.

    Example::

        >>> from lstmkit.tasks.tagger.data import make_batch
        >>> from lstmkit.tasks.tagger.vocab import TaggerVocab
        >>> v = TaggerVocab.build([["a", "cat"]], [["DET", "NN"]])
        >>> b = make_batch([["a", "cat", "a"], ["cat"]], v)
        >>> b.words.shape, b.lengths.tolist(), b.chars.shape, b.types.T.tolist()
        (torch.Size([3, 2]), [3, 1], torch.Size([3, 2]), [[0, 1, 0], [1, 0, 0]])
    """
    if not sentences or any(len(s) == 0 for s in sentences):
        raise ValueError("expected sentences of at least one word, got an empty one")
    chars = chars or CharCache(vocab)
    forms: dict[str, int] = {}
    types = [torch.tensor([forms.setdefault(w, len(forms)) for w in s], dtype=torch.long) for s in sentences]
    char_seqs = [chars(w) for w in forms]
    ids = word_ids if word_ids is not None else [vocab.word_ids(s) for s in sentences]
    return Batch(words=pad_sequence(list(ids)),                                     # (T, B)
                 lengths=torch.tensor([len(s) for s in sentences]),
                 chars=pad_sequence(char_seqs),                                      # (L, U)
                 char_lengths=torch.tensor([len(c) for c in char_seqs]),
                 types=pad_sequence(types),                                          # (T, B)
                 tags=None if tags is None else pad_sequence(list(tags), padding_value=-100),
                 aux_tags=None if aux_tags is None else pad_sequence(list(aux_tags), padding_value=-100))


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices sorted by length (longest first), cut into batches: little padding, one pass each."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class BucketSampler:
    """Training batches of sentences of similar length, in a random order, epoch after epoch; exactly
    resumable (:meth:`state_dict`).

    Each epoch shuffles the sentences, sorts them by length (a stable sort: equal lengths stay shuffled),
    cuts batches of ``batch_size`` and shuffles the batches.

    Example::

        >>> from lstmkit.tasks.tagger.data import BucketSampler
        >>> s = BucketSampler([5, 1, 4, 2, 3, 6], batch_size=2, seed=0)
        >>> sorted(sorted(b) for b in (s.next(), s.next(), s.next()))
        [[0, 5], [1, 3], [2, 4]]
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths, self.batch_size = list(lengths), batch_size
        self.g = torch.Generator().manual_seed(seed)
        self.epoch, self.pos, self.batches = 0, 0, self._epoch_batches()

    def _epoch_batches(self) -> list[list[int]]:
        perm = torch.randperm(len(self.lengths), generator=self.g).tolist()
        perm.sort(key=lambda i: self.lengths[i])
        batches = [perm[i:i + self.batch_size] for i in range(0, len(perm), self.batch_size)]
        return [batches[k] for k in torch.randperm(len(batches), generator=self.g).tolist()]

    def next(self) -> list[int]:
        if self.pos == len(self.batches):
            self.epoch, self.pos, self.batches = self.epoch + 1, 0, self._epoch_batches()
        self.pos += 1
        return self.batches[self.pos - 1]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "batches": self.batches, "g": self.g.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self.batches = state["epoch"], state["pos"], [list(b) for b in state["batches"]]
        self.g.set_state(state["g"])
