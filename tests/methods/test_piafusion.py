"""PIAFusion: the port equals the official TensorFlow graph on a synthetic checkpoint in the official format.

The official data shard (`checkpoint/PIAFusion/IAFusion.model-29.data-00000-of-00001`) was not available, so the
reference was made with the official code and a synthetic checkpoint (random weights) instead:

* code: Linfeng-Tang/PIAFusion @ 10b5c59ea27bfb012466a0355f082e5e6d76b557 (`main.py`, `model.py`,
  `train_network.py`, `ops.py`, `utils.py`, and `checkpoint/Illumination/*`, which the test path restores first);
* checkpoint: `synthetic_tensors()` below, written by `methods._tf_checkpoint.write_checkpoint` as
  `checkpoint/PIAFusion/IAFusion.model-29`: every tensor of the official `.index` (22 fusion-network and 12 classifier
  tensors, float32, same names and shapes), drawn by `random_weights.seeded_state_like` (seed 0) on the port's state
  dict and written in TensorFlow's layout; the test regenerates it bit for bit;
* inputs: `synthetic_pairs()`: `random_weights.seeded_pair` (seed 0) at 48x64, 37x53 and 61x40 (odd sizes
  included), written as `test_data/MSRS/{ir,vi}/0000kD.png` with cv2 (the visible RGB as BGR);
* command: `python main.py --is_train=False` (its test() with DataSet MSRS), through a wrapper that also saved the
  float32 array each `cv2.imwrite` received (BGR, times 255, before the uint8 conversion);
* environment: Python 3.11, tensorflow-cpu 2.21.0 (+ tf-keras 2.21.0 for `tf.compat.v1.layers`, with
  TF_USE_LEGACY_KERAS=1), numpy 2.4.6, opencv-python-headless 5.1.0.95, h5py 3.14;
* patches (TF 2 only, nothing else): `import tensorflow as tf` -> `import tensorflow.compat.v1 as tf` in every
  module (plus `tf.disable_v2_behavior()` in main.py); `import tensorflow.contrib as tf_contrib` removed from ops.py
  (used only by normalisation helpers the network never calls); `channel = channel / 2` -> `channel // 2` in the
  decoder (TF 2's TensorShape rejects the float 128.0 that TF 1 accepted as 128); the unused `pandas` / `openpyxl`
  imports of utils.py removed.

Result: the port's float output (`PIAFusion.colour_output`, the script's RGB before `* 255`, values 0.18 to 0.68)
differs from the official one by at most 2.7e-7 on all three sizes (the requirement is 1e-5), and the saved uint8
images are identical. What is committed, `DIGEST`, is `random_weights.digest` of each official output: mean and
standard deviation of the float RGB image (C, H, W), its red channel at a 4 x 4 grid of pixels (to 1e-8), and the
sha256 of the uint8 RGB image the script wrote. Each statistic moves by at most the largest pixel difference, so the
1e-6 tolerance here is implied by pixel-wise equality within 1e-6.

The same synthetic checkpoint on 7 real pairs of vifbench12 (MSRS 00537D, 00881N; TNO 17, 21, 36, whose visible
image is gray stored as RGB; RoadScene 049, 108), copied byte for byte into `test_data/MSRS` and `test_data/TNO` and
fused by `main.py --is_train=False --DataSet=MSRS` / `--DataSet=TNO`: max abs diff 3.6e-7 to 4.2e-7 before
quantisation; after `cv2.imwrite`'s rounding 0 to 27 values per image one level apart (float values within 1e-4
levels of a rounding tie). `REAL` keeps `random_weights.digest`'s float statistics of those outputs (no sha256: the
uint8 images differ at those ties); `BENCH_FULL_FIDELITY=1` checks them (7 pairs at full size, ~2 minutes).

One fact the comparison established: `train_network.py` imports `ops` and then `utils`, and utils' `lrelu`
(`max(x, 0.2 x)`) replaces ops' (`leaky_relu(x, 0.1)`): the network's leaky ReLU slope is 0.2.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.images import read_image
from methods import create_method, get_method_spec
from methods._tf_checkpoint import CheckpointError, read_index, write_checkpoint
from methods.piafusion import CHECKPOINT, OFFICIAL_TENSORS, PIAFusionNet
from tests.methods.random_weights import digest, seeded_pair, seeded_state_like
from tests.methods.zoo_fidelity import FULL

pytestmark = pytest.mark.usefixtures('one_torch_thread')

# random_weights.digest of the official outputs (see the module docstring), per (h, w) of the synthetic pairs
DIGEST = {
    (48, 64): {'mean': 0.42861938, 'std': 0.06963615, 'probe': [
        0.51247104, 0.45580256, 0.35032373, 0.42658614, 0.44801561, 0.53588412, 0.44192011, 0.45573183, 0.42834754,
        0.49488391, 0.36226107, 0.380114, 0.48445479, 0.48113619, 0.42849806, 0.40634855],
        'sha256': '31f11096eef8d92b81625ddef3c0aefc30ebf0424770977fec414b859dd5e35d'},
    (37, 53): {'mean': 0.42540303, 'std': 0.06785531, 'probe': [
        0.38826503, 0.52810286, 0.43187214, 0.35411123, 0.43499059, 0.47728307, 0.42724756, 0.34349488, 0.41198677,
        0.60553044, 0.44914703, 0.3535801, 0.43871669, 0.52899385, 0.40726124, 0.40200297],
        'sha256': '909abb2f06cd1d7e276ada00b6430d300090cbc4ee2e5bb4c0ee204dec9be72b'},
    (61, 40): {'mean': 0.41960156, 'std': 0.06417332, 'probe': [
        0.45560123, 0.5312664, 0.42755172, 0.3651787, 0.42911709, 0.49753313, 0.55111275, 0.38874153, 0.46352072,
        0.49972376, 0.49833335, 0.38596661, 0.48253347, 0.53368052, 0.51477248, 0.38180937],
        'sha256': '5b3ab21c983b258017f2dd596c6bb55efecb4960e6a250cd31af9c3a1abc35fb'},
}
DATA_SIZE = 5_066_380  # bytes of the official data shard: the sum of the tensor sizes its .index lists
SIZES = ((48, 64), (37, 53), (61, 40))  # (height, width) of the synthetic pairs, odd sizes included


def synthetic_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    """Every tensor of the official index (name, shape, float32): the fusion network's drawn by
    `random_weights.seeded_state_like` on the port's state dict and written in TensorFlow's layout (kernels
    HWIO), the unused classifier's by the same function on its TensorFlow names."""
    net = PIAFusionNet()
    net.load_state_dict(seeded_state_like(net.state_dict(), seed))
    tensors = {}
    for scope, conv in net.tf_convs().items():
        tensors[f'{scope}/kernel'] = conv.weight.detach().permute(2, 3, 1, 0).numpy()
        tensors[f'{scope}/bias'] = conv.bias.detach().numpy()
    classifier = {n: torch.zeros(s) for n, s in OFFICIAL_TENSORS.items() if n.startswith('classifier/')}
    tensors.update({n: v.numpy() for n, v in seeded_state_like(classifier, seed).items()})
    return {n: np.ascontiguousarray(tensors[n]) for n in OFFICIAL_TENSORS}


def synthetic_pairs(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(MSRS-style file name, infrared uint8 (H, W), visible RGB uint8 (H, W, 3))]: `random_weights.seeded_pair`
    of each of `SIZES`."""
    return [(f'{i:05d}D.png', *seeded_pair(h, w, seed)) for i, (h, w) in enumerate(SIZES, 1)]


# random_weights.digest (float statistics only) of the official outputs on real vifbench12 pairs, same checkpoint
REAL = {
    '00537D': {'mean': 0.41914577, 'std': 0.0357104, 'probe': [
        0.41502874, 0.4488552, 0.4312418, 0.3873192, 0.40663692, 0.43783085, 0.38680764, 0.40901627, 0.40710784,
        0.44690333, 0.41642689, 0.40392387, 0.38663806, 0.40504566, 0.42205526, 0.40827421]},
    '00881N': {'mean': 0.40941541, 'std': 0.02369359, 'probe': [
        0.40621736, 0.4051172, 0.40650946, 0.40357804, 0.40806053, 0.40224421, 0.37774784, 0.3933583, 0.40563791,
        0.40089476, 0.40588337, 0.37071952, 0.40592897, 0.40609678, 0.38652721, 0.3904965]},
    '17': {'mean': 0.4255032, 'std': 0.00513176, 'probe': [
        0.41697041, 0.43825328, 0.43951057, 0.40341881, 0.42202184, 0.43249724, 0.42767732, 0.42166033, 0.42039232,
        0.42169519, 0.41936945, 0.42217288, 0.4212221, 0.42306629, 0.42289674, 0.42049076]},
    '21': {'mean': 0.43230837, 'std': 0.00484694, 'probe': [
        0.42878101, 0.43777304, 0.43925623, 0.41865988, 0.42692817, 0.43737479, 0.44136819, 0.43175581, 0.42381086,
        0.43901753, 0.43399586, 0.43341035, 0.4175173, 0.42133113, 0.43164119, 0.42649922]},
    '36': {'mean': 0.43485981, 'std': 0.00172051, 'probe': [
        0.43786139, 0.43634015, 0.43725158, 0.43582889, 0.43534962, 0.43578934, 0.43419282, 0.43332292, 0.43616471,
        0.43206865, 0.43579835, 0.43434466, 0.43592356, 0.43317252, 0.43447978, 0.43688429]},
    '108': {'mean': 0.42793307, 'std': 0.02246017, 'probe': [
        0.46678754, 0.42991351, 0.45923211, 0.43911854, 0.46556373, 0.47229695, 0.45946892, 0.45673406, 0.4183346,
        0.43559621, 0.46346271, 0.45618977, 0.42245397, 0.43914585, 0.4294705, 0.42820497]},
    '049': {'mean': 0.43381273, 'std': 0.0115645, 'probe': [
        0.41604156, 0.41382805, 0.42269449, 0.42216875, 0.43286145, 0.42803479, 0.43318269, 0.42241337, 0.42224612,
        0.42621095, 0.42760315, 0.42423236, 0.42990382, 0.43137345, 0.43260669, 0.43726166]},
}


def _checkpoint(tmp_path: Path, tensors: dict[str, np.ndarray]) -> list[str]:
    prefix = tmp_path / 'IAFusion.model-29'
    write_checkpoint(prefix, tensors)
    return [f'{prefix}.index', f'{prefix}.data-00000-of-00001']


def _tensors(ir: np.ndarray, vi: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(ir).float()[None, None] / 255,
            torch.from_numpy(vi).float().permute(2, 0, 1)[None] / 255)


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
    for _, ir, vi in synthetic_pairs():
        want = DIGEST[ir.shape]
        t_ir, t_vi = _tensors(ir, vi)
        with torch.no_grad():
            out = method.colour_output(t_ir, t_vi)[0].double().numpy()
            fused = (method.fuse(t_ir, t_vi)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        got = digest(out, fused)
        np.testing.assert_allclose([got['mean'], got['std'], *got['probe']],
                                   [want['mean'], want['std'], *want['probe']], rtol=0, atol=1e-6,
                                   err_msg=str(ir.shape))
        assert got['sha256'] == want['sha256'], ir.shape


@pytest.mark.skipif(not FULL, reason='7 full-size pairs (~2 minutes): run with BENCH_FULL_FIDELITY=1')
def test_equals_official_graph_on_real_pairs(tmp_path, data_root):
    """Real vifbench12 pairs read as the runner reads them; the float output's statistics within 1e-6."""
    method = create_method('piafusion', weights=_checkpoint(tmp_path, synthetic_tensors()))
    for pair, want in REAL.items():
        ir, vi = (read_image(data_root / 'vifbench12' / side / f'{pair}.png') for side in ('ir', 'vi'))
        t_ir, t_vi = _tensors(ir, vi if vi.ndim == 3 else vi[..., None])
        with torch.no_grad():
            got = digest(method.colour_output(t_ir, t_vi)[0].double().numpy(), np.zeros(1, np.uint8))
        np.testing.assert_allclose([got['mean'], got['std'], *got['probe']],
                                   [want['mean'], want['std'], *want['probe']], rtol=0, atol=1e-6, err_msg=pair)


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
    tensors['PIAFusion/decoder/conv1/bias'] = tensors['PIAFusion/decoder/conv1/bias'].astype(np.float64)
    with pytest.raises(CheckpointError, match=r'unexpected PIAFusion/decoder/conv9/bias; wrong shape '
                                              r'PIAFusion/decoder/conv2/bias: \(64,\) instead of \(128,\); '
                                              r'not float32 PIAFusion/decoder/conv1/bias: dtype code 2'):
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


def test_data_shard_is_an_official_download_checked_by_git_blob():
    spec = get_method_spec('piafusion')
    data = [w for w in spec.weights if w.file.endswith('.data-00000-of-00001')]
    assert spec.weights_status == 'official download'
    assert len(data) == 1 and not data[0].user_supplied
    assert data[0].git_blob == 'a730a7c46d8c315e8bcefeb827d5520499e66751' and data[0].url.startswith('https://raw.')
