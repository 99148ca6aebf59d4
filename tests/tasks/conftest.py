"""Every test here runs with one intra-op thread per xdist worker (see helpers.one_thread_per_xdist_worker)."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread_per_xdist_worker):
    yield
