"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997), section 5, as a built-in suite.

One module per concern: ``base`` (batches, losses, scores), ``criteria`` (the paper's stopping rules),
the generators (``reber``, ``lags``, ``classify``, ``arith``, ``copymem``), ``registry`` (tasks by
name, the paper's figures, training recipes), ``model``, ``training``, ``suite``, ``gradflow`` and
``cli`` (``lstmkit longlag``).

Example::

    >>> import torch
    >>> from lstmkit.tasks.longlag import make_task
    >>> task = make_task("6a")
    >>> batch = task.sample(4, torch.Generator().manual_seed(0))
    >>> batch.x.shape[1:], task.output_size
    (torch.Size([4, 8]), 4)
"""

from .cli import register, run_task
from .registry import TASKS, make_task, paper
from .training import LongLagConfig, train

__all__ = ["register", "run_task", "TASKS", "make_task", "paper", "LongLagConfig", "train"]
