import os

import pytest
import torch

# the routing thresholds' defaults, not a measurement of the machine running the tests: routes stay the same
# from run to run (tests/kernels/test_dispatch.py measures with its own cache folder)
os.environ.setdefault("LSTMKIT_TUNING", "defaults")
# without a GPU the Triton kernels run in Triton's interpreter on CPU tensors (tests/kernels/gpu); it must be
# switched on before triton is first imported
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from helpers import one_thread_per_xdist_worker  # noqa: F401  (a fixture: tests/train and tests/tasks use it)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same RNG state, so failures reproduce."""
    torch.manual_seed(0)
