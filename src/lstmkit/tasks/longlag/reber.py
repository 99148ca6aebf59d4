"""Experiment 1, the embedded Reber grammar, and its continual variant (Gers et al. 2000).

The Reber grammar (symbols B T P S X V E) is a small automaton; the *embedded* grammar wraps a Reber
string as ``B (T|P) <Reber string> (T|P) E`` with the same T or P on both sides, so predicting the
second-to-last symbol needs the symbol seen a whole Reber string earlier. The net reads one symbol per
step and predicts the next one; the target at each step is the set of legal next symbols (multi-hot),
and a symbol counts as predicted when the most active output is a legal next symbol.

Example::

    >>> import random
    >>> from lstmkit.tasks.longlag.reber import embedded_reber, SYMBOLS
    >>> ids, legal = embedded_reber(random.Random(0))
    >>> s = "".join(SYMBOLS[i] for i in ids)
    >>> s[0], s[1] == s[-2], s[-1], s[2], s[-3]
    ('B', True, 'E', 'B', 'E')
"""

from __future__ import annotations

import random
from typing import Callable

import torch
from torch import Tensor

from .base import Batch, Task, check_param, one_hot
from .criteria import HeldOut

__all__ = ["SYMBOLS", "reber", "embedded_reber", "EmbeddedReber", "ContinualReber"]

SYMBOLS = "BTPSXVE"
_ID = {s: k for k, s in enumerate(SYMBOLS)}
#: state -> [(emitted symbol, next state)]; each branch taken with probability 1/2; None ends the string
_REBER = {0: [("B", 1)], 1: [("T", 2), ("P", 3)], 2: [("S", 2), ("X", 4)], 3: [("T", 3), ("V", 5)],
          4: [("X", 3), ("S", 6)], 5: [("P", 4), ("V", 6)], 6: [("E", None)]}


_AFTER_END = frozenset({_ID["B"]})          # legal next symbols after a string's final E, in a stream


def _legal(state) -> frozenset:
    return frozenset(_ID[s] for s, _ in _REBER[state]) if state is not None else frozenset()


def reber(rng: random.Random) -> tuple[list[int], list[frozenset]]:
    """One Reber string: symbol ids, and after each symbol the set of legal next symbols
    (empty after the final E)."""
    ids, legal, state = [], [], 0
    while state is not None:
        sym, state = rng.choice(_REBER[state])
        ids.append(_ID[sym])
        legal.append(_legal(state))
    return ids, legal


def embedded_reber(rng: random.Random) -> tuple[list[int], list[frozenset]]:
    """One embedded Reber string ``B (T|P) <Reber> (T|P) E``: ids and legal-next sets (the last one,
    after the final E, is empty)."""
    tp = _ID[rng.choice("TP")]
    inner, inner_legal = reber(rng)
    ids = [_ID["B"], tp] + inner + [tp, _ID["E"]]
    legal = ([frozenset({_ID["T"], _ID["P"]}), frozenset({_ID["B"]})] + inner_legal[:-1]
             + [frozenset({tp}), frozenset({_ID["E"]}), frozenset()])
    return ids, legal


def _to_batch(strings: list[tuple[list[int], list[frozenset]]]) -> Batch:
    """Pad strings into a batch: x (T, B, 7) one-hot, target = legal-next multi-hot, signal where any
    next symbol exists."""
    lengths = torch.tensor([len(ids) for ids, _ in strings])
    T, B, n = int(lengths.max()), len(strings), len(SYMBOLS)
    ids_t = torch.zeros(T, B, dtype=torch.long)
    legal = torch.zeros(T, B, n, dtype=torch.bool)
    for b, (ids, lg) in enumerate(strings):
        ids_t[: len(ids), b] = torch.tensor(ids)
        for t, s in enumerate(lg):
            legal[t, b, list(s)] = True
    valid = torch.arange(T).unsqueeze(1) < lengths                    # (T, B)
    x = one_hot(ids_t, n) * valid.unsqueeze(-1)
    return Batch(x=x, lengths=lengths, target=legal.float(), mask=legal.any(-1), legal=legal)


def _symbol_score(out: Tensor, batch: Batch) -> Tensor:
    """(B,) True where, at every signalled step, the most active output is a legal next symbol."""
    pick = out.argmax(-1, keepdim=True)                               # (T, B, 1)
    ok = batch.legal.gather(-1, pick).squeeze(-1) | ~batch.mask        # (T, B)
    return ok.all(0)


class EmbeddedReber(Task):
    """Experiment 1: next-symbol prediction on embedded Reber strings, trained on a fixed set.

    Args:
        n_train, n_test: sizes of the fixed training and test sets (paper: 256 and 256).
        seed: draws the two sets.
        check_every: training sequences between checks of the criterion.

    Criterion (paper): solved when, for every symbol of every training and test string, the most
    active output is a legal next symbol. Training presents strings drawn from the training set.

    Example::

        >>> import torch
        >>> task = EmbeddedReber(n_train=8, n_test=8)
        >>> b = task.sample(4, torch.Generator().manual_seed(0))
        >>> b.x.shape[1:], b.mask.dtype
        (torch.Size([4, 7]), torch.bool)
    """

    name = "reber"
    kind = "sigmoid"
    input_size = output_size = len(SYMBOLS)

    def __init__(self, n_train: int = 256, n_test: int = 256, seed: int = 0, check_every: int = 256) -> None:
        check_param(self.name, "n_train", n_train, 1)
        check_param(self.name, "n_test", n_test, 1)
        self.check_every = check_param(self.name, "check_every", check_every, 1)
        rng = random.Random(seed)
        self.train_set = [embedded_reber(rng) for _ in range(n_train)]
        self.test_set = [embedded_reber(rng) for _ in range(n_test)]

    def describe(self) -> str:
        return "1 embedded Reber"

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        idx = torch.randint(len(self.train_set), (batch,), generator=g).tolist()
        return _to_batch([self.train_set[i] for i in idx])

    def score(self, out: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        _, error = super().score(out, batch)
        return _symbol_score(out, batch), error

    def _wrong(self, predict: Callable[[Batch], Tensor], strings) -> int:
        b = _to_batch(strings)
        with torch.no_grad():
            return int((~_symbol_score(predict(b), b)).sum())

    def criterion(self, predict: Callable[[Batch], Tensor]) -> HeldOut:
        def check():
            wrong = self._wrong(predict, self.train_set) + self._wrong(predict, self.test_set)
            return wrong == 0, {"solved": wrong == 0, "wrong_strings": wrong}
        return HeldOut(check, self.check_every)

    def test(self, predict: Callable[[Batch], Tensor], g: torch.Generator) -> dict:
        return {"wrong_train": self._wrong(predict, self.train_set), "of_train": len(self.train_set),
                "wrong_test": self._wrong(predict, self.test_set), "of_test": len(self.test_set)}


class ContinualReber(Task):
    """Gers et al. (2000): embedded Reber strings concatenated into one stream with no resets.

    Training runs ``batch`` independent streams in chunks of ``chunk`` symbols; the caller carries the
    network state from chunk to chunk (``stateful``). A batch counts as the strings it completed.

    Args:
        chunk: symbols per training chunk (truncated backpropagation through time).
        test_streams, test_symbols: the criterion (paper: 10 streams of 100,000 symbols, no error).
        seed: seeds the streams; check_every: training strings between checks.

    Example::

        >>> import torch
        >>> task = ContinualReber(chunk=20)
        >>> b = task.sample(2, torch.Generator().manual_seed(0))
        >>> b.x.shape, b.sequences >= 0
        (torch.Size([20, 2, 7]), True)
    """

    name = "reber-continual"
    kind = "sigmoid"
    stateful = True
    input_size = output_size = len(SYMBOLS)

    def __init__(self, chunk: int = 100, test_streams: int = 10, test_symbols: int = 100_000, seed: int = 0,
                 check_every: int = 2000) -> None:
        self.chunk = check_param(self.name, "chunk", chunk, 1)
        self.test_streams = check_param(self.name, "test_streams", test_streams, 1)
        self.test_symbols = check_param(self.name, "test_symbols", test_symbols, 1)
        self.check_every = check_param(self.name, "check_every", check_every, 1)
        self.seed = seed
        self._lanes: list[list] = []

    def describe(self) -> str:
        return "G continual embedded Reber"

    @staticmethod
    def _stream(rng: random.Random, n: int) -> tuple[list[int], list[frozenset]]:
        """n symbols of an endless stream; after a string's final E the next symbol is B."""
        ids, legal = [], []
        while len(ids) < n:
            s, lg = embedded_reber(rng)
            ids += s
            legal += lg[:-1] + [_AFTER_END]
        return ids[:n], legal[:n]

    def _chunk_batch(self, pieces) -> Batch:
        b = _to_batch(pieces)
        b.mask = b.legal.any(-1)
        return b

    def sample(self, batch: int, g: torch.Generator) -> Batch:
        if len(self._lanes) != batch:
            seed = int(torch.randint(2**62, (1,), generator=g))
            self._lanes = [[random.Random(seed + k), [], []] for k in range(batch)]
        pieces, ended = [], 0
        for lane in self._lanes:
            rng, ids, legal = lane
            while len(ids) < self.chunk:
                s, lg = self._stream(rng, 1000)
                ids += s
                legal += lg
            pieces.append((ids[: self.chunk], legal[: self.chunk]))
            ended += sum(1 for i, lg in zip(ids[: self.chunk], legal[: self.chunk])
                         if i == _ID["E"] and lg == _AFTER_END)              # strings completed
            lane[1], lane[2] = ids[self.chunk:], legal[self.chunk:]
        b = self._chunk_batch(pieces)
        b.count = ended
        return b

    def score(self, out: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
        _, error = super().score(out, batch)
        return _symbol_score(out, batch), error

    def streams_without_error(self, predict_stream, symbols: int, streams: int, seed: int) -> int:
        """How many of ``streams`` fresh streams of ``symbols`` symbols are predicted without an error.
        ``predict_stream(x (T, B, 7), state) -> (out, state)`` runs a chunk carrying the state."""
        rngs = [random.Random(seed * 7919 + k) for k in range(streams)]
        ok = torch.ones(streams, dtype=torch.bool)
        state, done = None, 0
        while done < symbols and bool(ok.any()):
            n = min(10_000, symbols - done)
            b = self._chunk_batch([self._stream(r, n) for r in rngs])
            with torch.no_grad():
                out, state = predict_stream(b.x, state)
            ok &= _symbol_score(out, b)
            done += n
        return int(ok.sum())

    def criterion(self, predict_stream) -> HeldOut:
        def check():
            short = self.streams_without_error(predict_stream, 1000, self.test_streams, self.seed + 1)
            info = {"perfect_1k": short}
            if short == self.test_streams:
                full = self.streams_without_error(predict_stream, self.test_symbols, self.test_streams,
                                                  self.seed + 2)
                info["perfect_streams"] = full
                return full == self.test_streams, info
            return False, info
        return HeldOut(check, self.check_every)

    def test(self, predict_stream, g: torch.Generator) -> dict:
        seed = int(torch.randint(2**31, (1,), generator=g))
        n = self.streams_without_error(predict_stream, self.test_symbols, self.test_streams, seed)
        return {"perfect_streams": n, "of": self.test_streams, "symbols_per_stream": self.test_symbols}
