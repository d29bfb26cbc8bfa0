"""PIAFusion: the port equals the official TensorFlow graph on a synthetic checkpoint in the official format.

The official data shard (`checkpoint/PIAFusion/IAFusion.model-29.data-00000-of-00001`) was not available, so the
reference was made with the official code and a synthetic checkpoint (random weights) instead:

* code: Linfeng-Tang/PIAFusion @ 10b5c59ea27bfb012466a0355f082e5e6d76b557 (`main.py`, `model.py`,
  `train_network.py`, `ops.py`, `utils.py`, and `checkpoint/Illumination/*`, which the test path restores first);
* checkpoint: `tests/methods/piafusion_synthetic.py`'s `synthetic_tensors()` written by
  `methods._tf_checkpoint.write_checkpoint` as `checkpoint/PIAFusion/IAFusion.model-29`: every tensor of the official
  `.index` (22 fusion-network and 12 classifier tensors, float32, same names and shapes), seeded numpy normal values
  written by name in sorted order; the test regenerates it bit for bit;
* inputs: `synthetic_pairs()`: three random 8-bit pairs, 48x64, 37x53 and 61x40 (odd sizes included), written as
  `test_data/MSRS/{ir,vi}/0000kD.png` with cv2 (the visible RGB as BGR);
* command: `python main.py --is_train=False` (its test() with DataSet MSRS), through a wrapper that also saved the
  float32 array each `cv2.imwrite` received (BGR, times 255, before the uint8 conversion);
* environment: Python 3.11, tensorflow-cpu 2.21.0 (+ tf-keras 2.21.0 for `tf.compat.v1.layers`, with
  TF_USE_LEGACY_KERAS=1), numpy 2.4.6, opencv-python-headless 5.1.0.95, h5py 3.14;
* patches (TF 2 only, nothing else): `import tensorflow as tf` -> `import tensorflow.compat.v1 as tf` in every
  module (plus `tf.disable_v2_behavior()` in main.py); `import tensorflow.contrib as tf_contrib` removed from ops.py
  (used only by normalisation helpers the network never calls); `channel = channel / 2` -> `channel // 2` in the
  decoder (TF 2's TensorShape rejects the float 128.0 that TF 1 accepted as 128); the unused `pandas` / `openpyxl`
  imports of utils.py removed.

Result: the port's float output (`PIAFusion.colour_output`, the script's RGB before `* 255`) differs from the
official one by at most 5.5e-7 on all three sizes (the requirement is 1e-5), and the saved uint8 images are
identical. What is committed is a digest of the official outputs, `piafusion_official_digest.json`: per pair and
channel the mean, standard deviation, 0/1/25/50/75/99/100th percentiles and 4x4 block means of the float output (to
1e-8), and the sha256 of the uint8 RGB image. Each statistic moves by at most the largest pixel difference, so the
1e-6 tolerance here is implied by pixel-wise equality within 1e-6.

One fact the comparison established: `train_network.py` imports `ops` and then `utils`, and utils' `lrelu`
(`max(x, 0.2 x)`) replaces ops' (`leaky_relu(x, 0.1)`): the network's leaky ReLU slope is 0.2.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from methods import create_method, get_method_spec
from methods._tf_checkpoint import CheckpointError, read_index, write_checkpoint
from methods.piafusion import CHECKPOINT, OFFICIAL_TENSORS
from tests.methods.piafusion_synthetic import synthetic_pairs, synthetic_tensors

pytestmark = pytest.mark.usefixtures('one_torch_thread')

DIGEST = json.loads((Path(__file__).with_name('piafusion_official_digest.json')).read_text())
DATA_SIZE = 5_066_380  # bytes of the official data shard: the sum of the tensor sizes its .index lists


def _checkpoint(tmp_path: Path, tensors: dict[str, np.ndarray]) -> list[str]:
    prefix = tmp_path / 'IAFusion.model-29'
    write_checkpoint(prefix, tensors)
    return [f'{prefix}.index', f'{prefix}.data-00000-of-00001']


def _tensors(ir: np.ndarray, vi: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(ir).float()[None, None] / 255,
            torch.from_numpy(vi).float().permute(2, 0, 1)[None] / 255)


def _block_means(x: np.ndarray, n: int = 4) -> list[list[float]]:
    return [[float(np.mean(b)) for b in np.array_split(r, n, axis=1)] for r in np.array_split(x, n, axis=0)]


def test_official_index_matches_port(weights_dir):
    index = weights_dir / f'{CHECKPOINT}.index'
    if not index.is_file():
        pytest.skip(f'needs the official index file {index}')
    _, entries = read_index(str(index)[:-len('.index')])
    assert {n: tuple(e.shape) for n, e in entries.items()} == OFFICIAL_TENSORS
    assert all(e.dtype == 1 for e in entries.values())  # float32
    assert sum(e.size for e in entries.values()) == DATA_SIZE


def test_equals_official_graph_on_synthetic_checkpoint(tmp_path):
    """The synthetic checkpoint goes through the loader a user's file goes through (`create_method(weights=...)`);
    every statistic of the float output within 1e-6 of the official graph's, the uint8 image identical."""
    method = create_method('piafusion', weights=_checkpoint(tmp_path, synthetic_tensors()))
    for name, ir, vi in synthetic_pairs():
        ref = DIGEST[name]
        assert list(ir.shape) == ref['shape']
        t_ir, t_vi = _tensors(ir, vi)
        with torch.no_grad():
            out = method.colour_output(t_ir, t_vi)[0].double().numpy()
        for c, ch in enumerate('RGB'):
            x, want = out[c], ref[ch]
            got = [x.mean(), x.std(), *np.percentile(x, [0, 1, 25, 50, 75, 99, 100]), *np.ravel(_block_means(x))]
            expected = [want['mean'], want['std'], *want['percentiles'], *np.ravel(want['blocks'])]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f'{name} {ch}')
        fused = (method.fuse(t_ir, t_vi)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        assert hashlib.sha256(np.ascontiguousarray(fused).tobytes()).hexdigest() == ref['sha256_uint8'], name


def test_classifier_tensors_are_checked_but_unused(tmp_path):
    """The test path restores the illumination classifier but the fused image does not depend on it."""
    tensors = synthetic_tensors()
    other = {n: (v if n.startswith('PIAFusion/') else np.zeros_like(v)) for n, v in tensors.items()}
    a = create_method('piafusion', weights=_checkpoint(tmp_path / 'a', tensors))
    b = create_method('piafusion', weights=_checkpoint(tmp_path / 'b', other))
    _, ir, vi = synthetic_pairs()[1]
    assert torch.equal(a.fuse(*_tensors(ir, vi)), b.fuse(*_tensors(ir, vi)))
    del tensors['classifier/Classifier/dense_1/bias']
    with pytest.raises(CheckpointError, match='not a PIAFusion checkpoint: missing classifier/Classifier/dense_1/bias'):
        create_method('piafusion', weights=_checkpoint(tmp_path / 'c', tensors))


def test_wrong_checkpoint_is_refused(tmp_path):
    tensors = synthetic_tensors()
    tensors['PIAFusion/decoder/conv2/bias'] = np.zeros(64, np.float32)
    tensors['PIAFusion/decoder/conv9/bias'] = np.zeros(3, np.float32)
    with pytest.raises(CheckpointError, match=r'unexpected PIAFusion/decoder/conv9/bias; wrong '
                                              r'PIAFusion/decoder/conv2/bias: \(64,\) instead of \(128,\)'):
        create_method('piafusion', weights=_checkpoint(tmp_path, tensors))


def test_gray_visible_reads_as_three_equal_channels(tmp_path):
    """A gray visible image goes in as three equal channels (cv2.imread(path, 1)); the three output channels then
    differ only by float rounding, and the port returns the green one."""
    method = create_method('piafusion', weights=_checkpoint(tmp_path, synthetic_tensors()))
    _, ir, vi = synthetic_pairs()[2]
    t_ir, gray = _tensors(ir, vi[:, :, :1].repeat(3, axis=2))
    rgb = method.fuse(t_ir, gray)
    single = method.fuse(t_ir, gray[:, :1])
    assert single.shape == (1, 1, *ir.shape) and torch.equal(single, rgb[:, 1:2])
    assert (rgb - rgb[:, 1:2]).abs().max() <= 1 / 255


def test_weights_wait_for_the_user():
    spec = get_method_spec('piafusion')
    data = [w for w in spec.weights if w.file.endswith('.data-00000-of-00001')]
    assert spec.weights_status == 'user-supplied'
    assert len(data) == 1 and data[0].user_supplied and data[0].git_blob == 'a730a7c46d8c315e8bcefeb827d5520499e66751'
