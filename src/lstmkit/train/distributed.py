"""Training on several processes with torch.distributed: ``torchrun --nproc_per_node=N -m lstmkit train JOB ...``.

How a job runs under torchrun (the same command on one machine or on several, ``--nnodes`` and the
rendezvous as torchrun does them):

- **One process group** per run: ``gloo`` on CPU, ``nccl`` on CUDA (each rank on the GPU ``LOCAL_RANK``).
  Each process sets its CPU threads to its share of the machine's cores (``cores // LOCAL_WORLD_SIZE``,
  or ``LSTMKIT_THREADS``), so N processes on one machine do not oversubscribe it (torchrun's own default is
  one thread per process).
- **The global batch stays the configured one.** Every rank draws the same global batch (the tasks' data
  generators are seeded alike) and computes on its contiguous part: rank r of W takes items
  ``[r*B/W, (r+1)*B/W)`` (:meth:`Shard.part`). W must divide the batch.
- **Gradients** are averaged by DistributedDataParallel, each rank's loss weighted by its share of the
  global batch's loss denominator, so a W-process step is the 1-process step of the same global batch
  (to float rounding: the sum is taken in another order).
- **Rank 0 alone writes** the run folder, metrics, checkpoints, plots and samples; the other ranks read the
  config it wrote. Evaluation runs on rank 0 and its metrics are broadcast, so every rank takes the same
  early-stopping and checkpoint decisions.
- **Resume is exact on every rank:** the ``last`` checkpoint holds each rank's own data position, carried
  recurrent state and random generators; ``--resume`` with the same number of processes restores them
  (another number is refused, naming both).

Example (one process, no torchrun: the trivial group)::

    >>> from lstmkit.train.distributed import Shard
    >>> shard = Shard.current()
    >>> shard.world, shard.rank, shard.part(8)
    (1, 0, slice(0, 8, None))
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Optional

import torch

__all__ = ["Shard", "init_from_env", "launched", "DistributedSetupError", "REQUIRED_ENV"]

#: the variables torchrun sets for every process; all must be present when one is
REQUIRED_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedSetupError(ValueError):
    """A torch.distributed setting that cannot work (a missing rendezvous variable, a world size that does not
    divide the batch); said in one line."""


def launched() -> bool:
    """Whether this process was started by torchrun (or set up by hand) as one of several: ``WORLD_SIZE`` or
    ``RANK`` is in the environment."""
    return "WORLD_SIZE" in os.environ or "RANK" in os.environ


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        number = int(value)
    except ValueError:
        raise DistributedSetupError(f"environment variable {name}={value!r}: expected an integer") from None
    if number < 0:
        raise DistributedSetupError(f"environment variable {name}={value!r}: expected an integer >= 0")
    return number


def _threads_per_process(local_world: int) -> int:
    if os.environ.get("LSTMKIT_THREADS"):
        threads = _env_int("LSTMKIT_THREADS")
        if threads < 1:
            raise DistributedSetupError(f"LSTMKIT_THREADS={threads}: expected a number of threads >= 1")
        return threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, local_world))


@dataclass
class Shard:
    """This process's place in the run: ``rank`` of ``world`` processes (rank 0 writes), and the process group
    (None for a single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    group: Any = None

    @classmethod
    def current(cls) -> "Shard":
        """The process group torch.distributed has initialised (by :func:`init_from_env`), or one process."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), dist.group.WORLD)
        return cls()

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def part(self, n: int, what: str = "batch") -> slice:
        """This rank's contiguous part of a global batch of ``n`` items: ``[r*n//W, (r+1)*n//W)``. The trainer
        checks up front that W divides the configured batch size, so parts are equal except in a shorter batch
        (an epoch's last); the ranks' losses are weighted by their share, so the step stays exact. Every rank
        needs an item: ``n >= W``.

        Example::

            >>> Shard(rank=1, world=2).part(8)
            slice(4, 8, None)
        """
        if n < self.world:
            raise DistributedSetupError(f"{self.world} processes cannot share a {what} of {n}: expected at least one "
                                        f"item per process (a batch of >= {self.world}; torchrun --nnodes x "
                                        f"--nproc_per_node sets the number of processes)")
        return slice(self.rank * n // self.world, (self.rank + 1) * n // self.world)

    def check_batch(self, batch_size: int, what: str = "--batch-size") -> None:
        """Raise :class:`DistributedSetupError` unless the world size divides the configured global batch."""
        if batch_size % self.world:
            raise DistributedSetupError(f"{what} {batch_size} is the global batch, which {self.world} processes share "
                                        f"equally; expected a multiple of the world size {self.world} (torchrun "
                                        f"--nnodes x --nproc_per_node)")

    def take(self, items, what: str = "batch"):
        """``items[part]`` for a list or a tensor's first dimension (see :meth:`part`)."""
        return items[self.part(len(items), what)]

    # ------------------------------------------------------------------------------- collectives
    def all_sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over the ranks (float64; identity for one process)."""
        if not self.distributed:
            return list(values)
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(t, group=self.group)
        return t.tolist()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (picklable objects)."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.group, device=self._device())
        return box[0]

    def gather(self, obj: Any) -> Optional[list]:
        """Every rank's ``obj`` as a list on rank 0 (None on the others)."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out = [None] * self.world if self.main else None
        dist.gather_object(obj, out, dst=0, group=self.group)
        return out

    def on_main(self, fn):
        """``fn()`` run on rank 0 alone, its result (or its exception, raised on every rank) sent to all, so no
        rank waits on a rank that failed; one process: ``fn()``. Rank 0's result must pickle."""
        if not self.distributed:
            return fn()
        result = error = None
        if self.main:
            try:
                result = fn()
            except Exception as e:                             # noqa: BLE001 - re-raised on every rank below
                error = e
        result, error = self.broadcast((result, error))
        if error is not None:
            raise error
        return result

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier(group=self.group)

    def _device(self):
        import torch.distributed as dist

        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(self.group) == "nccl" \
            else torch.device("cpu")


def init_from_env(device: str = "cpu", timeout_s: float = 1800.0) -> Shard:
    """Join the process group torchrun describes in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``): ``gloo`` for a CPU ``device``, ``nccl`` for CUDA; set this process's
    threads. Without torchrun's variables: one process, nothing to join. A group already initialised is used
    as it is. Raises :class:`DistributedSetupError` naming a missing or bad variable."""
    import torch.distributed as dist

    if not launched():
        return Shard()
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise DistributedSetupError(f"torch.distributed: expected the rendezvous variables {', '.join(REQUIRED_ENV)} "
                                    f"(torchrun sets them), missing {', '.join(missing)}; start with torchrun "
                                    f"--nproc_per_node=N -m lstmkit train ...")
    rank, world, local_rank = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    if world < 1 or rank >= world:
        raise DistributedSetupError(f"torch.distributed: RANK={rank} with WORLD_SIZE={world}; expected "
                                    f"0 <= RANK < WORLD_SIZE")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE") or world)
    torch.set_num_threads(_threads_per_process(local_world))
    if world == 1:
        return Shard()
    if not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout_s))
    return Shard.current()
