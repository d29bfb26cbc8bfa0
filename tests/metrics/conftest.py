"""Fixtures for the metric tests."""
from __future__ import annotations

import pytest

from metrics import _cpu_kernels


@pytest.fixture(params=['kernel', 'torch'])
def cpu_backend(request, monkeypatch):
    """Runs a test once through the fused CPU kernels (numba) and once through the torch forms, which are what
    other devices run; kernels are used even on tiny inputs."""
    if request.param == 'kernel':
        if not _cpu_kernels.available():
            pytest.skip('numba is not installed')
        monkeypatch.setattr(_cpu_kernels, 'MIN_WORK', 0)
    else:
        monkeypatch.setattr(_cpu_kernels, 'available', lambda: False)
    return request.param
