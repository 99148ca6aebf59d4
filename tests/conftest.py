import pytest
import torch

from helpers import one_thread_per_xdist_worker  # noqa: F401  (a fixture: tests/train and tests/tasks use it)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same RNG state, so failures reproduce."""
    torch.manual_seed(0)
