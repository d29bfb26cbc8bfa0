"""The shipped DFECF weights: files as listed in the model card, and a golden output on one TNO pair."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from methods import create_method, list_methods
from methods.dfecf import VARIANTS, shipped_weights

# sha256 of each shipped weights file (also in methods/dfecf/MODEL_CARD.md).
WEIGHTS_SHA256 = {
    'dfecf': '19b93b33e80345c2fa92be5b950b0bc63d693bb6e26abc7197fae82dbe26ce5b',
    'dfecf-no-aux': 'e7a33e73a7dad290de80a08089c3b3a509480dd17b5f71b11b82ac1407bd1b9b',
    'dfecf-no-de': 'd75c24ac62201cb0b8bbe98d7f8b54103356abe5c8e5343ec4a02537e7a88076',
    'dfecf-no-fusion': '9e205356672c01b883aa51d0052e27d7011510aea2dba1df6327915283f81b6d',
    'dfecf-no-transformer': 'aaae9da7fb5d9438368512154f990685877013cb7e4e0ed7b6d7b75e62610a20',
}
# TNO-42 pair 37 (247x359, both sizes odd): sha256 of the fused uint8 image (row-major bytes) that the shipped `dfecf`
# weights give when the network runs in float64, where rounding to grey levels does not depend on the CPU's
# float32 kernels.
GOLDEN_PAIR = '37'
GOLDEN_SHA256 = 'c550099fdb2440579d4afef927902fdaea3cbfd45dfa0b2ccde78ac38b4077ef'


def test_registered_variants_are_those_with_shipped_weights():
    assert set(list_methods('dfecf*')) == {v for v in VARIANTS if shipped_weights(v).is_file()} == set(WEIGHTS_SHA256)
    assert 'dfecf' in WEIGHTS_SHA256


@pytest.mark.parametrize('variant', sorted(WEIGHTS_SHA256))
def test_shipped_weights_are_the_documented_files(variant):
    data = shipped_weights(variant).read_bytes()
    assert hashlib.sha256(data).hexdigest() == WEIGHTS_SHA256[variant]
    assert len(data) < 1_200_000  # float16: about 1 MB per variant
    card = (shipped_weights(variant).parents[1] / 'MODEL_CARD.md').read_text()
    assert WEIGHTS_SHA256[variant] in card


@pytest.mark.slow
def test_shipped_weights_reproduce_golden_output_on_tno(data_root):
    from bench.datasets import load_manifest, load_pair
    manifest = load_manifest('tno42')
    loaded = load_pair(manifest, next(p for p in manifest.pairs if p.name == GOLDEN_PAIR), data_root)
    assert loaded.ir.shape == (247, 359) and loaded.vis.ndim == 2
    ir = torch.from_numpy(loaded.ir)[None, None].float() / 255
    vis = torch.from_numpy(loaded.vis)[None, None].float() / 255
    method = create_method('dfecf')
    fused32 = method.fuse(ir, vis)
    with torch.inference_mode():
        fused64 = method.net.double()(ir.double(), vis.double())
    quantised = (fused64[0, 0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    assert quantised.shape == (247, 359)
    assert hashlib.sha256(np.ascontiguousarray(quantised).tobytes()).hexdigest() == GOLDEN_SHA256
    # The benchmark's float32 path gives the same image to within one grey level.
    assert (fused32[0, 0].double() - fused64[0, 0]).abs().max().item() * 255 < 1
