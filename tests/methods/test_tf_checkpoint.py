"""The numpy reader and writer of TF1 V2 checkpoints: round trips, corruption, and every official file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from methods._tf_checkpoint import CheckpointError, crc32c, read_checkpoint, read_index, write_checkpoint


def _bitwise_crc32c(data: bytes) -> int:
    """The textbook bit-at-a-time CRC-32C, independent of the table-driven, lane-parallel implementation."""
    reg = 0xFFFFFFFF
    for byte in data:
        reg ^= byte
        for _ in range(8):
            reg = (reg >> 1) ^ (0x82F63B78 if reg & 1 else 0)
    return reg ^ 0xFFFFFFFF


@pytest.mark.parametrize('n', [0, 1, 3, 4, 5, 63, 64, 65, 1000, 4096, 20011])
def test_crc32c_matches_bitwise_definition(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc32c(data) == _bitwise_crc32c(data)
    assert crc32c(np.frombuffer(data, np.uint8)) == crc32c(data)


def test_crc32c_known_vectors():
    # RFC 3720 (iSCSI) appendix B.4 test vectors.
    assert crc32c(b'123456789') == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b'\xff' * 32) == 0x62A8AB43


def _tensors():
    rng = np.random.default_rng(0)
    out = {f'net/layer{i}/kernel': rng.normal(size=(3, 3, i + 1, 4)).astype(np.float32) for i in range(40)}
    out.update({
        'net/bias64': rng.normal(size=5),                    # float64
        'global_step': np.array(123456789012, np.int64),     # scalar int64
        'Variable': np.array(7, np.int32),                   # scalar int32, like CSF's step counter
        'empty': np.zeros((0, 3), np.float32),
        'mask': rng.integers(0, 2, (2, 3)).astype(bool),
        'half': rng.normal(size=(4,)).astype(np.float16),
        'bytes': rng.integers(0, 256, (6,)).astype(np.uint8),
    })
    return out


@pytest.mark.parametrize('block_size', [64, 4096, 1 << 20])
def test_round_trip(tmp_path, block_size):
    tensors = _tensors()
    write_checkpoint(tmp_path / 'model.ckpt', tensors, block_size=block_size)
    assert (tmp_path / 'model.ckpt.data-00000-of-00001').is_file()
    n_shards, entries = read_index(tmp_path / 'model.ckpt')
    assert n_shards == 1 and sorted(entries) == sorted(tensors)
    back = read_checkpoint(tmp_path / 'model.ckpt')
    for name, arr in tensors.items():
        assert back[name].dtype == arr.dtype and back[name].shape == arr.shape and np.array_equal(back[name], arr)
        assert entries[name].shape == arr.shape and entries[name].numpy_dtype == arr.dtype
    assert sorted(read_checkpoint(tmp_path / 'model.ckpt', names=['Variable'])) == ['Variable']


def test_corruption_and_missing_files_are_reported(tmp_path):
    prefix = tmp_path / 'm.ckpt'
    write_checkpoint(prefix, {'a': np.arange(10, dtype=np.float32), 'b': np.ones(3, np.float32)})
    data = prefix.with_name('m.ckpt.data-00000-of-00001')
    raw = bytearray(data.read_bytes())
    raw[5] ^= 1
    data.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="tensor 'a' fails its crc32c"):
        read_checkpoint(prefix)
    assert read_checkpoint(prefix, verify=False)['a'][1] != 1
    index = prefix.with_name('m.ckpt.index')
    raw = bytearray(index.read_bytes())
    raw[3] ^= 1
    index.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match='fails its crc32c'):
        read_index(prefix)
    index.write_bytes(b'not a checkpoint' * 4)
    with pytest.raises(CheckpointError, match='not a TensorFlow checkpoint index'):
        read_index(prefix)
    with pytest.raises(CheckpointError, match='Checkpoint index not found: .*nothing.ckpt.index'):
        read_checkpoint(tmp_path / 'nothing.ckpt')
    write_checkpoint(prefix, {'a': np.zeros(2, np.float32)})
    data.unlink()
    with pytest.raises(CheckpointError, match='data file not found: .*m.ckpt.data-00000-of-00001'):
        read_checkpoint(prefix)
    with pytest.raises(CheckpointError, match="no tensor named 'zz'"):
        read_checkpoint(prefix, names=['zz'])


def test_writer_rejects_strings(tmp_path):
    with pytest.raises(ValueError, match="numeric dtype, but 's' has dtype <U3"):
        write_checkpoint(tmp_path / 'x', {'s': np.array(['abc'])})


def _official_prefixes(root: Path) -> list[Path]:
    return sorted(p.with_suffix('') for p in root.rglob('*.index'))


def test_reads_every_official_checkpoint(weights_dir):
    prefixes = _official_prefixes(weights_dir)
    assert len(prefixes) >= 10, f'expected the official checkpoints under {weights_dir}'
    complete = 0
    for prefix in prefixes:
        n_shards, entries = read_index(prefix)
        assert n_shards == 1 and entries
        data = Path(f'{prefix}.data-00000-of-00001')
        if not data.is_file():  # FusionGAN and GANMcC: only the index is public here
            with pytest.raises(CheckpointError, match='data file not found'):
                read_checkpoint(prefix)
            continue
        tensors = read_checkpoint(prefix)  # crc32c of every tensor checked
        assert sorted(tensors) == sorted(entries)
        for name, arr in tensors.items():
            assert arr.shape == entries[name].shape and arr.dtype == entries[name].numpy_dtype, name
            assert arr.dtype != np.float32 or np.isfinite(arr).all(), name
        # The tensors tile the data file exactly, in order: nothing unread, nothing overlapping.
        spans = sorted((e.offset, e.size) for e in entries.values())
        assert all(a[0] + a[1] == b[0] for a, b in zip(spans, spans[1:]))
        assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == data.stat().st_size
        complete += 1
    assert complete >= 8


def test_official_tensor_names_and_shapes(weights_dir):
    # Facts from the official graphs (see ../shared/docs/baselines.md): a few layers per method.
    expected = {
        'u2fusion/model/model.ckpt': {'Generator/encoder/conv1_1/kernel': (3, 3, 2, 44),
                                      'Generator_1/decoder/conv2_1/kernel': (3, 3, 264, 128)},
        'sdnet/IR_VIS/checkpoint/IRVIS.model-10': {'fusion_model/layer5_fuse/w5_fuse': (1, 1, 128, 1)},
        'csf/models_EC/4/4.ckpt': {'Classification/classification/conv1_11/kernel': (5, 5, 32, 2),
                                   'Variable': ()},
        'fusiongan/checkpoint/CGAN_120/CGAN.model-3': {'fusion_model/layer1/w1': (5, 5, 2, 256)},
        'ganmcc/checkpoint/CGAN_120/CGAN.model-4': {'fusion_model/layer5/w5': (1, 1, 128, 1)},
    }
    for prefix, shapes in expected.items():
        _, entries = read_index(weights_dir / prefix)
        for name, shape in shapes.items():
            assert entries[name].shape == shape, (prefix, name)
