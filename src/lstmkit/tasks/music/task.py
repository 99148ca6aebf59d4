"""The music job as a :class:`~lstmkit.train.TrainTask`: random windows of the training rolls (optionally
transposed), the frame NLL as the loss, whole-sequence validation and test NLL."""

from __future__ import annotations

import hashlib
from typing import Optional

import torch
from torch import Tensor, nn

from ...train import TrainTask
from .config import MusicConfig
from .model import MusicRNN, frame_nll
from .rolls import Rolls, load_rolls

__all__ = ["MusicTask", "pad_batch", "split_nll", "data_digest"]


def pad_batch(rolls: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """``(x (T, B, K), y (T, B, K), lengths (B,))`` from rolls of >= 2 frames: x = roll[:-1], y = roll[1:],
    zero-padded to the longest; lengths are the predicted frames (len - 1)."""
    lengths = torch.tensor([len(r) - 1 for r in rolls])
    T, K = int(lengths.max()), rolls[0].shape[1]
    x = torch.zeros(T, len(rolls), K)
    y = torch.zeros(T, len(rolls), K)
    for b, r in enumerate(rolls):
        x[: len(r) - 1, b] = r[:-1]
        y[: len(r) - 1, b] = r[1:]
    return x, y, lengths


def _length_batches(lengths: list[int], batch_size: int, max_frames: int = 100_000) -> list[list[int]]:
    """Indices sorted by length, cut into batches of at most ``batch_size`` sequences and about
    ``max_frames`` padded frames (a sequence of thousands of frames gets a small batch)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) == batch_size or (len(cur) + 1) * lengths[i] > max_frames):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


@torch.no_grad()
def split_nll(model: MusicRNN, rolls: list[Tensor], batch_size: int = 32) -> tuple[float, int]:
    """``(NLL per frame, frames)`` of whole sequences ``rolls``: the sum of every predicted frame's NLL over
    the split divided by the number of predicted frames (locuslab/TCN's convention)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, frames = 0.0, 0
    for idx in _length_batches([len(r) for r in rolls], batch_size):
        x, y, lengths = pad_batch([rolls[i] for i in idx])
        logits, _ = model(x.to(device), lengths=lengths)
        s, n = frame_nll(logits, y.to(device), lengths)
        total, frames = total + s.item(), frames + n
    model.train(was_training)
    return total / frames, frames


def data_digest(rolls: Rolls) -> str:
    """sha256 of the training rolls (a resumed run refuses changed data)."""
    h = hashlib.sha256()
    for r in rolls.train:
        h.update(str(tuple(r.shape)).encode())
        h.update(r.contiguous().numpy().tobytes())
    return h.hexdigest()


class MusicTask(TrainTask):
    """Reads the rolls (``cfg.data``, or the synthetic chorales) and trains :class:`MusicRNN` on batches of
    ``batch_size`` windows of like lengths (:meth:`_draw`): of each sequence a window of at most ``window + 1``
    frames is cut at a random start (whole when shorter), shifted by a random transposition when
    ``transpose`` > 0, and the model predicts frames 1.. from frames ..-1, starting from a zero state.
    The monitored metric is the validation NLL per frame; the test NLL is reported beside it (it selects
    nothing).

    Example::

        >>> from lstmkit.tasks.music import MusicConfig, MusicTask
        >>> task = MusicTask(MusicConfig(hidden=8, layers=1))       # the synthetic chorales
        >>> task.rolls.width, len(task.rolls.train)
        (88, 160)
    """

    unit = "frames"
    monitor = "val_nll"
    loss_label = "NLL (nats/frame)"

    def __init__(self, config: MusicConfig, rolls: Optional[Rolls] = None) -> None:
        super().__init__(config)
        self.rolls = rolls or load_rolls(config.data, config.frames_per_beat, config.fs)
        self.weights = torch.tensor([len(r) - 1 for r in self.rolls.train], dtype=torch.float64)
        self.g = torch.Generator().manual_seed(config.seed + 1)
        self.device = torch.device(config.device)
        self.digest = data_digest(self.rolls)

    def build_model(self) -> nn.Module:
        return MusicRNN(self.rolls.width, self.config)

    def _window(self, roll: Tensor) -> Tensor:
        cfg = self.config
        if len(roll) > cfg.window + 1:
            start = int(torch.randint(len(roll) - cfg.window, (), generator=self.g))
            roll = roll[start:start + cfg.window + 1]
        if cfg.transpose:
            keys = torch.nonzero(roll.any(0)).flatten()
            if len(keys):
                lo = max(-cfg.transpose, -int(keys.min()))
                hi = min(cfg.transpose, roll.shape[1] - 1 - int(keys.max()))
                shift = int(torch.randint(lo, hi + 1, (), generator=self.g))
                if shift:
                    moved = torch.zeros_like(roll)
                    if shift > 0:
                        moved[:, shift:] = roll[:, :-shift]
                    else:
                        moved[:, :shift] = roll[:, -shift:]
                    roll = moved
        return roll

    def _draw(self) -> Tensor:
        """Indices of one batch of similar lengths: an anchor sequence drawn in proportion to its frames, and
        the ``batch_size`` sequences nearest to it in length (lengths jittered by up to +-15% each draw, so
        batches vary), windows capped at ``window``. The recurrent layers step through the longest window of
        a batch, so like lengths together cost a fraction of random batches on data of mixed lengths."""
        B = self.config.batch_size
        n = len(self.weights)
        if n <= B:
            return torch.multinomial(self.weights, B, replacement=True, generator=self.g)
        anchor = int(torch.multinomial(self.weights, 1, generator=self.g))
        capped = self.weights.clamp(max=self.config.window)
        jitter = torch.empty(n, dtype=torch.float64).uniform_(-0.15, 0.15, generator=self.g).exp()
        keyed = torch.log(capped * jitter)
        order = torch.argsort((keyed - keyed[anchor]).abs())
        return order[:B]

    def train_step(self, model: MusicRNN, step: int) -> tuple[Tensor, int]:
        idx = self._draw()
        windows = [self._window(self.rolls.train[int(i)]) for i in idx]     # all: the generator moves alike
        x, y, lengths = pad_batch(self.shard.take(windows, "batch of --batch-size sequences"))
        logits, _ = model(x.to(self.device), lengths=lengths)
        total, frames = frame_nll(logits, y.to(self.device), lengths)
        return total / frames, frames

    def evaluate(self, model: MusicRNN) -> dict[str, float]:
        val, _ = split_nll(model, self.rolls.valid, self.config.eval_batch_size)
        test, _ = split_nll(model, self.rolls.test, self.config.eval_batch_size)
        return {"val_nll": round(val, 5), "test_nll": round(test, 5)}

    # ------------------------------------------------------------------------------------- state
    def metadata(self) -> dict:
        r = self.rolls
        return {"width": r.width, "source": r.source, "frame_seconds": r.frame_seconds, "data_sha256": self.digest,
                "sequences": [len(r.train), len(r.valid), len(r.test)],
                "frames": [sum(len(s) - 1 for s in r.split(n)) for n in ("train", "valid", "test")]}

    def state_dict(self) -> dict:
        return {"g": self.g.get_state(), "data_sha256": self.digest}

    def load_state_dict(self, state: dict) -> None:
        self.check_same_data(state, self.digest)
        self.g.set_state(state["g"])
