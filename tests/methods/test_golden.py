"""Golden regression of every port that has official weights: a fixed analytic input, the stored 8-bit output.

Provenance: `golden_baselines.json` was written by this file (`BENCH_REGENERATE_GOLDEN=1 python -m pytest
tests/methods/test_golden.py`; `=missing` adds the entries of newly listed ports and keeps the others) on CPU with the
official weights in ../shared/weights, after the ports had been shown to reproduce their published results
(tests/methods/test_fidelity.py and test_<name>.py).
It guards the ports against unintended changes; it is not an independent reference. Float differences between
machines can move a value that sits on a rounding boundary by one grey level, so the test allows a 1-level
difference on at most 1% of the pixels.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import methods

GOLDEN = Path(__file__).with_name('golden_baselines.json')
PORTS = ['auifnet', 'caf', 'caf-seg', 'csf', 'cufd', 'datfuse', 'densefuse', 'densefuse-1e0', 'densefuse-1e1',
         'densefuse-1e3', 'densefuse-l1', 'densefuse-official', 'densefuse-pytorch', 'didfuse', 'gifnet', 'ifcnn',
         'ifcnn-mean', 'ifcnn-sum', 'ifcnn-tang', 'ifcnn-vifbench', 'lrrnet', 'mfeif', 'mufusion',
         'mufusion-roadscene', 'murf', 'pmgi', 'reconet', 'sdnet', 'seafusion', 'smoa', 'stdfusionnet', 'tardal',
         'tardal-dt', 'tardal-plus', 'u2fusion', 'u2fusion-official', 'ydtr']
# PIL luminance (L and F) and recolouring; SeAFusion's own YCbCr; OpenCV's YCrCb (TarDAL, CAF, SMoA); VIF-Benchmark's
# IFCNN; the AWCXV scripts' own YCbCr (MUFusion, GIFNet); MURF's full-range YCbCr after its warp
COLOUR = ['caf', 'densefuse', 'gifnet', 'ifcnn-vifbench', 'mufusion', 'murf', 'pmgi', 'sdnet', 'seafusion', 'smoa',
          'tardal', 'u2fusion']


pytestmark = pytest.mark.usefixtures('one_torch_thread')


def golden_pair(colour: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth 40x56 test images with integer grey levels; the visible one optionally RGB (no randomness)."""
    yy, xx = np.mgrid[0:40, 0:56].astype(np.float64)
    ir = 128 + 90 * np.sin(xx / 7) * np.cos(yy / 5) + 25 * np.exp(-((xx - 40) ** 2 + (yy - 12) ** 2) / 30)
    vis = 120 + 80 * np.cos((xx + yy) / 9) + 30 * np.sin(xx * yy / 60)
    planes = [vis, vis * 0.8 + 40 * np.sin(yy / 4), vis * 0.6 + 60 * np.cos(xx / 6)] if colour else [vis]
    to = lambda a: torch.from_numpy(np.clip(np.rint(a), 0, 255)).float() / 255  # noqa: E731
    return to(ir)[None, None], torch.stack([to(p) for p in planes])[None]


def _fuse(name: str, weights_dir: Path, colour: bool) -> np.ndarray:
    method = methods.create_method(name, weights_dir=weights_dir)
    fused = method.fuse(*golden_pair(colour))
    return (fused[0] * 255).round().to(torch.uint8).numpy()


def _key(name: str, colour: bool) -> str:
    return f'{name}/rgb' if colour else name


CASES = [(n, False) for n in PORTS] + [(n, True) for n in COLOUR]


@pytest.mark.skipif(os.environ.get('BENCH_REGENERATE_GOLDEN') not in ('1', 'missing'),
                    reason='set BENCH_REGENERATE_GOLDEN=1 (all entries) or =missing (new ports only)')
def test_regenerate(weights_dir):
    keep = os.environ['BENCH_REGENERATE_GOLDEN'] == 'missing' and GOLDEN.is_file()
    stored = json.loads(GOLDEN.read_text()) if keep else {}
    stored['_provenance'] = __doc__.split('\n\n')[1].replace('\n', ' ')
    for name, colour in CASES:
        if _key(name, colour) in stored:
            continue
        out = _fuse(name, weights_dir, colour)
        stored[_key(name, colour)] = {'shape': list(out.shape), 'sha256': hashlib.sha256(out.tobytes()).hexdigest(),
                                      'uint8_base64': base64.b64encode(out.tobytes()).decode()}
    GOLDEN.write_text(json.dumps(stored, indent=1) + '\n')


@pytest.mark.parametrize('name, colour', CASES, ids=[_key(*c) for c in CASES])
def test_port_matches_golden_output(name, colour, weights_dir):
    entry = json.loads(GOLDEN.read_text())[_key(name, colour)]
    expected = np.frombuffer(base64.b64decode(entry['uint8_base64']), np.uint8).reshape(entry['shape'])
    out = _fuse(name, weights_dir, colour)
    assert out.shape == expected.shape
    diff = np.abs(out.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.01, (name, int(diff.max()), float((diff > 0).mean()))
    assert len(np.unique(out)) > 50, 'a degenerate (flat or binary) output would make the check meaningless'
