"""What a job plugs into the shared :class:`~lstmkit.train.Trainer`: its data, model, loss and metrics.

The trainer owns everything else (optimiser, schedule, clipping, evaluation cadence, early stopping,
checkpoints, resume, RNG states, metrics, plots, progress), so a new job (tagger, classifier, CTC,
forecaster) writes one :class:`TrainTask` subclass and a config dataclass extending
:class:`~lstmkit.train.TrainConfig`, and reuses the loop unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

from torch import Tensor, nn

from .config import TrainConfig
from .distributed import Shard

__all__ = ["TrainTask"]


class TrainTask(ABC):
    """One job's data, model and metrics, as the trainer sees them.

    Required: :meth:`build_model`, :meth:`train_step`, :meth:`evaluate`. Optional: :meth:`state_dict` /
    :meth:`load_state_dict` (data position, carried recurrent state, the task's generators: everything
    needed to continue exactly), :meth:`metadata` (JSON kept in checkpoints, e.g. a vocabulary),
    :meth:`train_metrics`, :meth:`sample`.

    Example (a toy regression job trained by the shared loop)::

        >>> import tempfile, torch
        >>> from torch import nn
        >>> from lstmkit.train import TrainConfig, TrainTask, Trainer, RunDir
        >>> class Toy(TrainTask):
        ...     unit = "samples"
        ...     def __init__(self, config):
        ...         super().__init__(config)
        ...         self.g = torch.Generator().manual_seed(config.seed)
        ...     def build_model(self):
        ...         return nn.Linear(3, 1)
        ...     def train_step(self, model, step):
        ...         x = torch.randn(16, 3, generator=self.g)
        ...         return (model(x).squeeze(1) - x.sum(1)).pow(2).mean(), 16
        ...     def evaluate(self, model):
        ...         x = torch.randn(256, 3, generator=torch.Generator().manual_seed(1))
        ...         return {"val_loss": (model(x).squeeze(1) - x.sum(1)).pow(2).mean().item()}
        ...     def state_dict(self):
        ...         return {"g": self.g.get_state()}
        ...     def load_state_dict(self, state):
        ...         self.g.set_state(state["g"])
        >>> cfg = TrainConfig(max_steps=200, lr=0.05, warmup_steps=10, eval_every=100, log_every=100)
        >>> run = RunDir.create(tempfile.mkdtemp() + "/toy", cfg)
        >>> result = Trainer(Toy(cfg), run, stream=open("/dev/null", "w")).fit()
        >>> result.stopped_by, result.step, result.best < 0.01
        ('max_steps', 200, True)
    """

    #: what throughput counts ("chars", "tokens", "sequences"); metrics get a ``<unit>_per_s`` field
    unit: str = "items"
    #: the key of :meth:`evaluate`'s result that selects the ``best`` checkpoint and early-stops (lower is better)
    monitor: str = "val_loss"
    #: label of the loss axis in ``loss.png``
    loss_label: str = "loss"
    #: this process's rank of the run (set by the trainer; one process unless under torchrun): a step draws the
    #: global batch as always and computes on ``self.shard.take(batch)``, this rank's part of it (see
    #: :mod:`lstmkit.train.distributed`)
    shard: Shard = Shard()
    #: whether a step may leave some parameters without a gradient (DistributedDataParallel must then look)
    unused_parameters: bool = False
    #: under torchrun, whether :meth:`evaluate` runs on every rank, scores ``self.shard``'s part of the held-out
    #: data and reduces the sums (``self.shard.all_sum``); otherwise rank 0 evaluates and sends the metrics
    sharded_evaluation: bool = False

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    @staticmethod
    def check_same_data(state: dict, digest: str) -> None:
        """For :meth:`load_state_dict`: raise ValueError when the data's sha256 ``digest`` is not the one the
        run started with (``state["data_sha256"]``), so a resume never continues on other data."""
        if state["data_sha256"] != digest:
            raise ValueError(f"the training data changed since the run started: expected sha256 "
                             f"{state['data_sha256']}, got {digest}")

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A fresh model (the trainer seeds the RNGs first, moves it to ``config.device``)."""

    @abstractmethod
    def train_step(self, model: nn.Module, step: int) -> tuple[Tensor, int]:
        """Fetch the next training batch and return ``(scalar loss with its graph, items in the batch)``, or
        ``(loss, items, weight)`` when the loss is a mean over something other than the items (tokens of a
        batch counted in sentences): ``weight`` is its denominator, which weighs the ranks' losses under
        torchrun. The trainer runs backward, clipping and the optimiser step. ``model`` is in training mode.
        Under torchrun, draw the whole global batch (the same on every rank) and compute on
        ``self.shard.take(...)`` of it."""

    @abstractmethod
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Metrics on the held-out split; must contain :attr:`monitor`. ``model`` is in eval mode, under
        ``torch.no_grad()``. Must not consume the global RNGs (use a local generator if needed)."""

    def train_metrics(self, mean_loss: float) -> dict[str, float]:
        """Fields a logged record gets from the mean training loss since the last record."""
        return {"train_loss": mean_loss}

    def sample(self, model: nn.Module, step: int) -> Optional[str]:
        """Text written to ``samples/step-<step>.txt`` at each evaluation (None: nothing)."""
        return None

    def metadata(self) -> dict:
        """JSON-able data that the model needs to be used later (vocabulary, label names)."""
        return {}

    def state_dict(self) -> dict:
        """Everything (besides model, optimiser and global RNGs) needed to continue exactly."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output."""
