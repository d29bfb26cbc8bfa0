"""Fixtures of the method tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for the baseline networks: they are small at test sizes, and on a loaded machine OpenMP
    threads spinning for busy cores made them several times (up to 8x) slower than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
