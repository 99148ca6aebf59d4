"""The character language model as a :class:`~lstmkit.train.TrainTask`: text, streams, loss, metrics."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...generate import sample_ids
from ...state import detach_state
from ...train import TrainTask
from ...train.distributed import Shard
from .config import CharLMConfig
from .model import CharLM
from .stream import TextStreams
from .text import load_texts
from .vocab import Vocab

__all__ = ["CharLMTask", "split_text"]

LN2 = math.log(2.0)


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """(train, validation): the last ``val_fraction`` of the characters is validation."""
    n_val = int(round(len(text) * val_fraction))
    if n_val < 2 or len(text) - n_val < 2:
        raise ValueError(f"the text has {len(text)} characters; --val-fraction {val_fraction} leaves "
                         f"{len(text) - n_val} for training and {n_val} for validation, expected >= 2 each")
    return text[: len(text) - n_val], text[len(text) - n_val:]


class CharLMTask(TrainTask):
    """Reads the text, builds the vocabulary from its training part, and trains :class:`CharLM` with
    truncated BPTT over :class:`TextStreams`, carrying the detached state across batches.

    Example::

        >>> from lstmkit.tasks.charlm import CharLMConfig, CharLMTask
        >>> task = CharLMTask(CharLMConfig(hidden=32, embed=8, batch_size=4, seq_len=16))
        >>> len(task.vocab) > 80, task.unit
        (True, 'chars')
    """

    unit = "chars"
    monitor = "val_loss"
    loss_label = "loss (nats/char)"

    def __init__(self, config: CharLMConfig, text: Optional[str] = None) -> None:
        super().__init__(config)
        text = load_texts(config.text, config.encoding, config.errors) if text is None else text
        self.text_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        train, val = split_text(text, config.val_fraction)
        self.vocab = Vocab.from_text(train)
        self.train_ids, self.val_ids = self.vocab.encode(train), self.vocab.encode(val)
        self.streams = TextStreams(self.train_ids, config.batch_size, config.seq_len, config.bptt_len,
                                   seed=config.seed + 1)
        self.carried: Any = None                                        # recurrent state between batches
        self.device = torch.device(config.device)
        self.prime_char = "\n" if "\n" in self.vocab.index else train[0]

    # ------------------------------------------------------------------------------------- model
    def build_model(self) -> nn.Module:
        return CharLM(len(self.vocab), self.config)

    def train_step(self, model: CharLM, step: int) -> tuple[Tensor, int]:
        cfg = self.config
        x, y, new_epoch = self.streams.next()                            # (k2, B), (k1, B)
        part = self.shard.part(x.shape[1], "batch of --batch-size streams")   # this rank's streams
        x, y = x[:, part].to(self.device), y[:, part].to(self.device)
        if new_epoch:
            self.carried = None
        k1, k2 = cfg.seq_len, cfg.bptt_len
        if k2 == k1:
            feats, state = model.features(x, self.carried)               # (k1, B, H)
            carry = state
        else:                                                            # overlapping windows, BPTT(k1, k2)
            first, carry = model.features(x[:k1], self.carried)          # state at the next window's start
            rest, _ = model.features(x[k1:], carry)
            feats = torch.cat([first, rest])[k2 - k1:]                   # (k1, B, H): the scored steps
        self.carried = detach_state(carry)
        logits = model.logits(feats)                                     # (k1, B, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, y.numel()

    # ------------------------------------------------------------------------------------- metrics
    def train_metrics(self, mean_loss: float) -> dict[str, float]:
        return {"train_loss": round(mean_loss, 6), "train_bpc": round(mean_loss / LN2, 6)}

    sharded_evaluation = True         # the held-out streams are shared by the ranks

    def evaluate(self, model: CharLM) -> dict[str, float]:
        """Mean loss over the validation text read as parallel streams, state carried chunk to chunk."""
        ids = self.val_ids
        if self.config.eval_chars:
            ids = ids[: self.config.eval_chars + 1]
        loss = stream_loss(model, ids, self.config.eval_batch_size, max(self.config.bptt_len, 128), self.device,
                           self.shard)
        return {"val_loss": round(loss, 6), "val_bpc": round(loss / LN2, 6)}

    def sample(self, model: CharLM, step: int) -> Optional[str]:
        n = self.config.sample_chars
        return self.generate(model, n, seed=self.config.seed + step) if n else None

    def generate(self, model: CharLM, n: int, seed: int, prime: Optional[str] = None) -> str:
        """``prime`` (default: a newline) followed by ``n`` sampled characters; its own generator."""
        prime = prime or self.prime_char
        device = next(model.parameters()).device            # the run's (training) or a loaded copy's (CPU)
        g = torch.Generator(device=device).manual_seed(seed)
        ids = sample_ids(model, self.vocab.encode(prime).to(device), n, self.config.temperature,
                         generator=g, banned=[0])
        return prime + self.vocab.decode(ids)

    # ------------------------------------------------------------------------------------- state
    def metadata(self) -> dict:
        return {"vocab": self.vocab.to_json(), "text_sha256": self.text_sha256, "prime": self.prime_char,
                "train_chars": int(self.train_ids.numel()), "val_chars": int(self.val_ids.numel())}

    def state_dict(self) -> dict:
        return {"streams": self.streams.state_dict(), "carried": self.carried, "text_sha256": self.text_sha256}

    def load_state_dict(self, state: dict) -> None:
        if state["text_sha256"] != self.text_sha256:
            raise ValueError(f"the training text changed since the run started: expected sha256 "
                             f"{state['text_sha256']}, got {self.text_sha256}")
        self.streams.load_state_dict(state["streams"])
        carried = state["carried"]
        if isinstance(carried, list):
            carried = tuple(carried)
        self.carried = None if carried is None else _to(carried, self.device)


@torch.no_grad()
def stream_loss(model: CharLM, ids: Tensor, batch: int, chunk: int, device, shard: Optional[Shard] = None) -> float:
    """Mean next-character loss (nats) over ``ids`` (n,) read as up to ``batch`` parallel streams, the
    state carried from chunk to chunk of ``chunk`` steps. Under torchrun (``shard``) each rank reads its part
    of the streams and the sums are reduced over the ranks."""
    if ids.numel() < 2:
        raise ValueError(f"the text must hold at least 2 characters to score, got {ids.numel()}")
    B = max(1, min(batch, (ids.numel() - 1) // 2))
    L = (ids.numel() - 1) // B
    idx = torch.arange(L + 1).unsqueeze(1) + L * torch.arange(B).unsqueeze(0)     # (L+1, B)
    X = ids[idx]
    if shard is not None and shard.distributed:              # this rank's streams (rank 0 all, if too few)
        X = X[:, shard.part(B, "evaluation streams")] if B >= shard.world else X[:, :B * shard.main]
    X = X.to(device)
    total, count, state = 0.0, 0, None
    for s in range(0, L if X.shape[1] else 0, chunk):
        x, y = X[s: min(s + chunk, L)], X[s + 1: min(s + chunk, L) + 1]
        logits, state = model(x, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    if shard is not None and shard.distributed:
        total, count = shard.all_sum([total, count])
    return total / count


def _to(state: Any, device: torch.device) -> Any:
    if isinstance(state, Tensor):
        return state.to(device)
    return type(state)(_to(s, device) for s in state)
