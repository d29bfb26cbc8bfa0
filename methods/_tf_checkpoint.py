"""TensorFlow 1 "V2" checkpoints (`prefix.index` + `prefix.data-0000K-of-0000N`) with numpy only.

No TensorFlow or protobuf dependency: the format is small enough to read directly.

* `prefix.index` is a LevelDB-style table (SSTable): uncompressed blocks of prefix-compressed key/value entries, an
  index block pointing at the data blocks and a 48-byte footer. Keys are tensor names; each value is a serialised
  `BundleEntryProto` (dtype, shape, shard, offset, size, masked crc32c of the bytes); the empty key holds the
  `BundleHeaderProto` (number of shards, endianness).
* `prefix.data-0000K-of-0000N` holds the raw little-endian tensor bytes of shard K.

`read_checkpoint` returns every tensor as a numpy array with the dtype and shape its index entry declares and checks
each tensor's crc32c; `write_checkpoint` writes the same format (tests use it to build checkpoints with the official
tensor names for methods whose official files are not at hand).

Example:
    >>> import tempfile, numpy as np
    >>> prefix = tempfile.mkdtemp() + '/model.ckpt'
    >>> write_checkpoint(prefix, {'conv/w': np.ones((3, 3, 1, 2), np.float32), 'step': np.int64(7)})
    >>> ckpt = read_checkpoint(prefix)
    >>> sorted(ckpt), ckpt['conv/w'].shape, int(ckpt['step'])
    (['conv/w', 'step'], (3, 3, 1, 2), 7)
"""
from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

__all__ = ['CheckpointError', 'read_checkpoint', 'read_index', 'write_checkpoint', 'crc32c', 'TensorEntry']

_TABLE_MAGIC = 0xdb4775248b80fb57
_FOOTER_SIZE = 48
_BLOCK_TRAILER = 5  # compression type byte + masked crc32c
_CRC_MASK_DELTA = 0xa282ead8

# tensorflow/core/framework/types.proto codes of the dtypes a checkpoint of these networks can hold.
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
           10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_DT_STRING = 7


class CheckpointError(ValueError):
    """A checkpoint file is missing, malformed, or its bytes fail their checksum."""


# --- crc32c (Castagnoli), vectorised -----------------------------------------------------------------------------

def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1).astype(np.uint32)
    return table


_CRC_TABLE = _crc_table()
_CRC_LIST = _CRC_TABLE.tolist()


def _crc_lanes(lanes: np.ndarray) -> np.ndarray:
    """Raw CRC registers (start 0, no final xor) of each row of a (lanes, L) uint8 array, all rows at once."""
    reg = np.zeros(lanes.shape[0], np.uint32)
    for col in lanes.T:
        reg = _CRC_TABLE[(reg ^ col) & 0xFF] ^ (reg >> 8)
    return reg


@functools.lru_cache(maxsize=None)
def _shift_tables(n_bytes: int) -> tuple[list[int], ...]:
    """Lookup tables of the linear map 'register after n_bytes zero bytes', one per register byte."""
    basis = (np.arange(256, dtype=np.uint32)[None, :] << (8 * np.arange(4, dtype=np.uint32)[:, None])).ravel()
    reg = basis.copy()
    for _ in range(n_bytes):
        reg = _CRC_TABLE[reg & 0xFF] ^ (reg >> 8)
    return tuple(row.tolist() for row in reg.reshape(4, 256))


def crc32c(data: bytes | np.ndarray) -> int:
    """CRC-32C (Castagnoli) of `data`, as TensorFlow and LevelDB compute it (before masking).

    The bytes are cut into about sqrt(n) lanes of equal length whose registers are computed in parallel, then
    combined using that a CRC register is linear in its input: a few ms per megabyte in numpy.

    >>> hex(crc32c(b'123456789'))
    '0xe3069283'
    """
    buf = np.frombuffer(bytes(data), np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).ravel()
    if buf.size < 64:
        reg = 0xFFFFFFFF
        for b in buf.tolist():
            reg = _CRC_LIST[(reg ^ b) & 0xFF] ^ (reg >> 8)
        return reg ^ 0xFFFFFFFF
    # An initial register of all ones equals a zero register with the first four bytes complemented, and leading
    # zero bytes leave a zero register unchanged: so pad at the front to whole lanes and start every lane at zero.
    buf = buf.copy()
    buf[:4] ^= 0xFF
    lane = 1 << max(4, int(np.log2(buf.size)) // 2)
    lanes = -(-buf.size // lane)
    padded = np.zeros(lanes * lane, np.uint8)
    padded[padded.size - buf.size:] = buf
    t0, t1, t2, t3 = _shift_tables(lane)
    reg = 0
    for r in _crc_lanes(padded.reshape(lanes, lane)).tolist():
        # register after lanes 0..k = (register after lanes 0..k-1, shifted by one lane) ^ register of lane k
        reg = t0[reg & 0xFF] ^ t1[(reg >> 8) & 0xFF] ^ t2[(reg >> 16) & 0xFF] ^ t3[reg >> 24] ^ r
    return reg ^ 0xFFFFFFFF


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


# --- protobuf wire format (only what the two bundle messages use) ------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise CheckpointError('truncated varint')
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, object]]:
    """(field number, value) pairs of a serialised message: ints for varint/fixed fields, bytes for the rest."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = struct.unpack_from('<Q', buf, pos)[0], pos + 8
        elif wire == 5:
            value, pos = struct.unpack_from('<I', buf, pos)[0], pos + 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise CheckpointError(f'unsupported protobuf wire type {wire}')
        yield number, value


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _enc_field(number: int, value: int | bytes, fixed32: bool = False) -> bytes:
    if isinstance(value, bytes):
        return _enc_varint(number << 3 | 2) + _enc_varint(len(value)) + value
    if fixed32:
        return _enc_varint(number << 3 | 5) + struct.pack('<I', value)
    return _enc_varint(number << 3) + _enc_varint(value)


class TensorEntry:
    """One `BundleEntryProto`: where a tensor's bytes are and what they hold."""
    __slots__ = ('dtype', 'shape', 'shard', 'offset', 'size', 'crc32c', 'sliced')

    def __init__(self, raw: bytes) -> None:
        self.dtype, self.shape, self.shard, self.offset, self.size = 0, (), 0, 0, 0
        self.crc32c, self.sliced = None, False
        for number, value in _fields(raw):
            if number == 1:
                self.dtype = value
            elif number == 2:  # TensorShapeProto: repeated Dim (field 2) {size = 1}
                self.shape = tuple(next((v for n, v in _fields(dim) if n == 1), 0)
                                   for n, dim in _fields(value) if n == 2)
            elif number == 3:
                self.shard = value
            elif number == 4:
                self.offset = value
            elif number == 5:
                self.size = value
            elif number == 6:
                self.crc32c = value
            elif number == 7:
                self.sliced = True

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype of the tensor (KeyError for dtypes this reader does not support, e.g. strings)."""
        return np.dtype(_DTYPES[self.dtype])

    def __repr__(self) -> str:
        return f'TensorEntry(dtype={self.dtype}, shape={self.shape}, shard={self.shard}, size={self.size})'


# --- the table ---------------------------------------------------------------------------------------------------

def _block(data: bytes, offset: int, size: int, path: Path) -> bytes:
    end = offset + size + _BLOCK_TRAILER
    if end > len(data):
        raise CheckpointError(f'{path}: block at {offset} runs past the end of the file')
    contents, kind = data[offset:offset + size], data[offset + size]
    if kind != 0:
        raise CheckpointError(f'{path}: compressed blocks (type {kind}) are not supported; TF writes none')
    stored = struct.unpack_from('<I', data, offset + size + 1)[0]
    if stored != _mask(crc32c(contents + b'\0')):
        raise CheckpointError(f'{path}: block at {offset} fails its crc32c (file corrupt or truncated)')
    return contents


def _entries(block: bytes) -> Iterator[tuple[bytes, bytes]]:
    n_restarts = struct.unpack_from('<I', block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    pos, key = 0, b''
    while pos < end:
        shared, pos = _varint(block, pos)
        fresh, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + fresh]
        pos += fresh
        yield key, block[pos:pos + vlen]
        pos += vlen


def _handle(raw: bytes, pos: int = 0) -> tuple[int, int, int]:
    offset, pos = _varint(raw, pos)
    size, pos = _varint(raw, pos)
    return offset, size, pos


def read_index(prefix: str | os.PathLike) -> tuple[int, dict[str, TensorEntry]]:
    """Reads `prefix.index`: (number of data shards, {tensor name: TensorEntry}).

    Raises:
        CheckpointError: missing file, bad magic number, failed block checksum, big-endian or sliced bundles.
    """
    path = Path(f'{prefix}.index')
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f'Checkpoint index not found: {path}') from None
    if len(data) < _FOOTER_SIZE or struct.unpack_from('<Q', data, len(data) - 8)[0] != _TABLE_MAGIC:
        raise CheckpointError(f'{path} is not a TensorFlow checkpoint index (no table magic number)')
    footer = data[-_FOOTER_SIZE:]
    _, _, pos = _handle(footer)  # metaindex block: empty in checkpoints
    index_offset, index_size, _ = _handle(footer, pos)
    n_shards, entries = 1, {}
    for _, handle in _entries(_block(data, index_offset, index_size, path)):
        offset, size, _ = _handle(handle)
        for key, value in _entries(_block(data, offset, size, path)):
            if key == b'':  # BundleHeaderProto: num_shards = 1, endianness = 2 (0 little, 1 big)
                header = dict(_fields(value))
                n_shards = header.get(1, 1)
                if header.get(2, 0) != 0:
                    raise CheckpointError(f'{path}: big-endian checkpoints are not supported')
                continue
            entry = TensorEntry(value)
            if entry.sliced:
                raise CheckpointError(f'{path}: tensor {key.decode()!r} is partitioned (sliced); not supported')
            entries[key.decode()] = entry
    return n_shards, entries


def _shard_path(prefix, shard: int, n_shards: int) -> Path:
    return Path(f'{prefix}.data-{shard:05d}-of-{n_shards:05d}')


def read_checkpoint(prefix: str | os.PathLike, names=None, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Every tensor of a TF1 V2 checkpoint as numpy arrays: {name: array} with the dtype and shape of its entry.

    Args:
        prefix: path without the `.index` / `.data-*` suffix, e.g. `.../model.ckpt`.
        names: only these tensors (an iterable of names); default all.
        verify: check each tensor's crc32c against its index entry.

    Raises:
        CheckpointError: a missing or malformed file, an unknown name, a string tensor, or a failed checksum.
    """
    n_shards, entries = read_index(prefix)
    if names is not None:
        unknown = sorted(set(names) - set(entries))
        if unknown:
            raise CheckpointError(f'{prefix}: no tensor named {unknown[0]!r} in the checkpoint')
        entries = {n: entries[n] for n in names}
    shards: dict[int, bytes] = {}
    out = {}
    for name, e in entries.items():
        if e.dtype not in _DTYPES:
            kind = 'string' if e.dtype == _DT_STRING else f'code {e.dtype}'
            raise CheckpointError(f'{prefix}: tensor {name!r} has dtype {kind}, which this reader does not support')
        if e.shard not in shards:
            path = _shard_path(prefix, e.shard, n_shards)
            try:
                shards[e.shard] = path.read_bytes()
            except FileNotFoundError:
                raise CheckpointError(f'Checkpoint data file not found: {path}') from None
        raw = shards[e.shard][e.offset:e.offset + e.size]
        dtype = np.dtype(_DTYPES[e.dtype]).newbyteorder('<')
        if len(raw) != e.size or e.size != dtype.itemsize * int(np.prod(e.shape, dtype=np.int64)):
            raise CheckpointError(f'{prefix}: tensor {name!r} ({e.size} bytes at {e.offset}, shape {e.shape}) does '
                                  f'not fit its data file (truncated or wrong file)')
        if verify and e.crc32c is not None and _mask(crc32c(raw)) != e.crc32c:
            raise CheckpointError(f'{prefix}: tensor {name!r} fails its crc32c (data file corrupt)')
        out[name] = np.frombuffer(raw, dtype).astype(dtype.newbyteorder('='), copy=True).reshape(e.shape)
    return out


# --- writer --------------------------------------------------------------------------------------------------------

def _table_block(items: list[tuple[bytes, bytes]], restart_interval: int = 16) -> bytes:
    out, restarts, last = bytearray(), [], b''
    for i, (key, value) in enumerate(items):
        shared = 0
        if i % restart_interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += _enc_varint(shared) + _enc_varint(len(key) - shared) + _enc_varint(len(value))
        out += key[shared:] + value
        last = key
    out += b''.join(struct.pack('<I', r) for r in restarts or [0]) + struct.pack('<I', len(restarts or [0]))
    return bytes(out)


def _append_block(fh: bytearray, contents: bytes) -> bytes:
    """Appends a block with its trailer and returns its encoded handle."""
    handle = _enc_varint(len(fh)) + _enc_varint(len(contents))
    fh += contents + b'\0' + struct.pack('<I', _mask(crc32c(contents + b'\0')))
    return handle


def write_checkpoint(prefix: str | os.PathLike, tensors: Mapping[str, np.ndarray], *,
                     block_size: int = 4096) -> None:
    """Writes `tensors` as a single-shard TF1 V2 checkpoint: `prefix.index` and `prefix.data-00000-of-00001`.

    Entries are sorted by name, as TensorFlow writes them; tensors are stored little-endian with their crc32c.
    `block_size` (bytes of entries per table block) only changes how the index is cut into blocks.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    data, items = bytearray(), []
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        if arr.dtype.newbyteorder('=') not in _CODES:
            raise ValueError(f'Expected tensors of a numeric dtype, but {name!r} has dtype {arr.dtype}.')
        raw = np.ascontiguousarray(arr, arr.dtype.newbyteorder('<')).tobytes()
        shape = b''.join(_enc_field(2, _enc_field(1, d)) for d in arr.shape)
        entry = (_enc_field(1, _CODES[arr.dtype.newbyteorder('=')]) + _enc_field(2, shape)
                 + (_enc_field(4, len(data)) if data else b'') + (_enc_field(5, len(raw)) if raw else b'')
                 + _enc_field(6, _mask(crc32c(raw)), fixed32=True))
        items.append((name.encode(), entry))
        data += raw
    header = _enc_field(1, 1) + _enc_field(3, _enc_field(1, 1))  # num_shards 1, version {producer 1}
    items.insert(0, (b'', header))
    table, index, block, used = bytearray(), [], [], 0
    for key, value in items:
        block.append((key, value))
        used += len(key) + len(value)
        if used >= block_size:
            index.append((key, _append_block(table, _table_block(block))))
            block, used = [], 0
    if block:
        index.append((block[-1][0], _append_block(table, _table_block(block))))
    meta = _append_block(table, _table_block([]))
    idx = _append_block(table, _table_block(index))
    footer = (meta + idx).ljust(_FOOTER_SIZE - 8, b'\0') + struct.pack('<Q', _TABLE_MAGIC)
    _shard_path(prefix, 0, 1).write_bytes(bytes(data))
    Path(f'{prefix}.index').write_bytes(bytes(table) + footer)
