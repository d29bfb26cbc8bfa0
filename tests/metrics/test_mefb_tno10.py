"""MEFB's metrics on TNO #10 (SeAFusion fused, gray) against the values MEFB's own code gives under GNU Octave.

The expected values are those of ../shared/docs/metrics.md ("MEFB extras, TNO #10 gray, Octave"), computed with
xingchenzhang/MEFB @ 9e185bf metrics/metrics*.m called as metricsX(ir, vis, fused) on 0-255 images. Each is
checked to the precision it is printed with (half a unit in its last printed place).
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import torch

from bench.images import read_image
from metrics import get_metric, score_images

EXPECTED = {'viff': '0.41936', 'qc': '0.55721', 'qy': '0.68020', 'qw': '0.88231', 'qp': '0.33321',
            'nmi': '0.34141', 'qncie': '0.80593', 'te': '1035.74'}
# The default convention is MEFB's definition except for TE, whose MEFB code pairs each joint-histogram bin with
# the marginals of the wrong grey levels (see metrics/te.py); the textbook Tsallis MI is about 5.84 here.
DEFAULT_DIFFERS = {'te'}


@pytest.fixture(scope='module')
def tno10(data_root):
    def load(rel):
        return torch.from_numpy(read_image(data_root / 'tno42' / rel))[None, None]
    return load('fused/SeAFusion/10.png'), load('ir/10.png'), load('vi/10.png')


def _check(value: float, printed: str) -> None:
    half_unit = Decimal(1).scaleb(Decimal(printed).as_tuple().exponent) / 2
    assert abs(Decimal(value) - Decimal(printed)) <= half_unit * Decimal('1.000001'), (value, printed)


@pytest.mark.parametrize('metric', sorted(EXPECTED))
def test_mefb_convention_matches_octave(tno10, metric):
    fused, ir, vis = tno10
    assert fused.shape == ir.shape == vis.shape == (1, 1, 480, 640)   # stored as 3 equal channels, read as gray
    value = score_images(fused, ir, vis, [metric], 'mefb')[metric]
    assert value.shape == (1,) and value.dtype == torch.float64
    _check(value.item(), EXPECTED[metric])


@pytest.mark.parametrize('metric', sorted(set(EXPECTED) - DEFAULT_DIFFERS))
def test_default_convention_equals_mefb_on_gray(tno10, metric):
    fused, ir, vis = tno10
    _check(score_images(fused, ir, vis, [metric])[metric].item(), EXPECTED[metric])


def test_default_te_is_the_textbook_tsallis_mi(tno10):
    value = score_images(*tno10, ['te'])['te'].item()
    assert value == pytest.approx(5.8409067, abs=5e-7)   # numpy transcription with matched marginals


def test_higher_is_better():
    # MEFB ranks every one of these by larger = better (all are similarity or information-transfer measures).
    assert all(get_metric(m, c).higher_is_better for m in EXPECTED for c in ('default', 'mefb'))
