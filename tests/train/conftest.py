import os

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_per_xdist_worker():
    """Under pytest-xdist each worker shares the 2 cores with the others: one intra-op thread per worker
    avoids the stalls of oversubscribed parallel regions (results do not depend on it)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        yield
        torch.set_num_threads(previous)
    else:
        yield
