"""Calibration fixtures: our scores for the reference rows, and the summary CSV of worst errors per metric."""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.images import read_image_layout

SUMMARY = Path(__file__).with_name('summary.csv')
_WORST: dict[tuple[str, str], dict] = {}


@lru_cache(maxsize=4096)
def _image(path: Path) -> tuple[np.ndarray, bool]:
    """The decoded image and whether its file stores three channels (vifb and mefb read files as stored)."""
    return read_image_layout(path)


def _tensor(image: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(image)
    return t[None] if t.ndim == 2 else t.permute(2, 0, 1)


def our_values(rows, convention: str, metric: str, batch: int = 16) -> np.ndarray:
    """Scores of `metric` under `convention` for each reference row, computed in batches of same-size triples."""
    from metrics import score_images
    out = np.full(len(rows), np.nan)
    triples = [tuple(_image(p) for p in (r.fused, r.ir, r.vi)) for r in rows.itertuples()]
    groups: dict[tuple, list[int]] = {}
    for i, t in enumerate(triples):
        groups.setdefault(tuple(x.shape for x, _ in t), []).append(i)
    for members in groups.values():
        for start in range(0, len(members), batch):
            idx = members[start:start + batch]
            f, a, b = (torch.stack([_tensor(triples[i][k][0]) for i in idx]) for k in range(3))
            stored_rgb = [[triples[i][k][1] for i in idx] for k in range(3)]
            out[idx] = score_images(f, a, b, [metric], convention, stored_rgb=stored_rgb)[metric].numpy()
    return out


def record(convention: str, metric: str, n: int, worst_rel: float, worst_abs: float, tolerance: str,
           passed: bool, note: str = '') -> None:
    _WORST[(convention, metric)] = dict(convention=convention, metric=metric, n=n, worst_rel_error=f'{worst_rel:.3g}',
                                        worst_abs_error=f'{worst_abs:.3g}', tolerance=tolerance,
                                        passed=passed, note=note)


def pytest_sessionfinish(session, exitstatus):
    """Rewrites summary.csv with this session's results, keeping rows of metrics this session did not run."""
    if not _WORST:
        return
    rows = {}
    if SUMMARY.is_file():
        with open(SUMMARY, newline='') as fh:
            rows = {(r['convention'], r['metric']): r for r in csv.DictReader(fh)}
    rows.update(_WORST)
    fields = ['convention', 'metric', 'n', 'worst_rel_error', 'worst_abs_error', 'tolerance', 'passed', 'note']
    with open(SUMMARY, 'w', newline='') as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator='\n')
        writer.writeheader()
        writer.writerows(rows[k] for k in sorted(rows))


@pytest.fixture(scope='session')
def references(data_root):
    from tests.calibration.references import reference_values
    return reference_values(Path(data_root))
