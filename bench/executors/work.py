"""The work of one chunk of pairs -- load, fuse (timed), quantise, score -- as every executor runs it.

A `Worker` keeps what should last between chunks: the method it last built (weights load once per worker), which
(method, data set) it has warmed up, and decoded pairs. It never touches the run folder: it returns, per pair, the
fused 8-bit image, the timing facts and the scores (`PairResult`), and the driver writes them. The in-process
executor and each Ray actor run this same class, so a cluster computes exactly what one process computes.
"""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

import methods
import metrics
from bench.datasets import LoadedPair, Manifest, Pair, load_pair
from bench.images import ImageError, encode_png, read_image_layout
from bench.prefetch import Loader
from bench.results import error_message
from bench.timing import count_parameters, device_name, gpu_id, node_name, profile, timed, warm_up

__all__ = ['Chunk', 'Failure', 'Item', 'PairResult', 'RemoteFailure', 'Settings', 'Worker', 'quantise',
           'to_tensor']


@dataclass(frozen=True)
class Failure:
    """An error row's content, made where the error happened (exceptions themselves do not always pickle)."""
    stage: str
    error: str      # the exception's type name
    message: str

    @classmethod
    def of(cls, stage: str, err: BaseException) -> 'Failure':
        if isinstance(err, RemoteFailure):
            return cls(stage, err.failure.error, err.failure.message)
        return cls(stage, type(err).__name__, error_message(err))

    def __str__(self) -> str:
        return self.message


class RemoteFailure(Exception):
    """A failure that happened elsewhere (the driver reading a file for a worker), raised where the in-process
    path would have raised the original."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class Item:
    """One pair of a chunk, as the driver planned it."""
    pair: Pair
    key: str                                    # provenance key of the fused image (scores add the metric version)
    metrics: tuple[str, ...]                    # the metrics still missing for it
    fuse: bool = True                           # fuse it here; else `fused` holds the image to score
    fused: Path | None = None                   # an existing fused image (run folder) or a published result file
    fused_data: bytes | Failure | None = None   # that file's bytes, when the driver read it (or why it could not)
    data: tuple[bytes, bytes] | Failure | None = None  # the sources' bytes, when the driver sends them
    profile: bool = False                       # count FLOPs and peak memory (first fused pair of the chunk on)


@dataclass
class Chunk:
    """Pairs of one data set for one method (or published results: `registered` False, score only)."""
    dataset: str            # the data set's label (NAME or NAME:SPLIT)
    manifest: Manifest
    method: str
    items: list[Item]
    registered: bool = True

    def __len__(self) -> int:
        return len(self.items)

    def item(self, pair: str) -> Item:
        """The item of pair `pair`."""
        if len(self._index) != len(self.items):
            self._index.update((i.pair.name, i) for i in self.items)
        return self._index[pair]

    _index: dict[str, Item] = field(default_factory=dict, init=False, repr=False, compare=False)


@dataclass
class Settings:
    """What every chunk of a run shares."""
    data_root: Path | None = None
    device: str = 'cpu'
    convention: str = metrics.DEFAULT_CONVENTION
    warmup: int = 1
    weights_dir: Path | None = None
    method_options: dict[str, dict] = field(default_factory=dict)
    fetch: bool = False     # download missing weight files when building a method (in-process runs)
    progress: bool = True
    driver_node: str | None = None  # the driver's host name, on a cluster (explains a data root a node lacks)


@dataclass
class PairResult:
    """What a worker returns for one pair; `pair` None: the chunk's method could not be built (`failure`)."""
    pair: str | None
    png: bytes | None = None            # the new fused image, 8-bit, encoded as the PNG file to be saved
    timing: dict | None = None          # `RunStore.add_timing` keywords of its fusion call
    scores: dict[str, float] = field(default_factory=dict)
    failure: Failure | None = None
    reused: bool = False                # scored from a fused image already in the run folder


def to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W) or (H, W, 3) uint8 -> (1, C, H, W) uint8 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(image))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    return t.to(device)


def quantise(fused: torch.Tensor) -> np.ndarray:
    """[0, 1] float (1, C, H, W) -> uint8 (H, W) or (H, W, 3), rounding as saving a PNG does."""
    arr = (fused[0].float() * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


def build_method(name: str, settings: Settings, device: torch.device,
                 fetch_failed: set[str] | None = None) -> methods.FusionMethod:
    """The method, its official weight files fetched first when missing and `settings.fetch` allows it."""
    options = dict(weights_dir=settings.weights_dir, device=device, **settings.method_options.get(name, {}))
    try:
        return methods.create_method(name, **options)
    except methods.WeightsNotFound:
        if not settings.fetch or (fetch_failed is not None and name in fetch_failed):
            raise
    from bench.weights import fetch_weights, files_for
    root = Path(settings.weights_dir) if settings.weights_dir else methods.default_weights_dir()
    print(f'Method {name}: weight files missing under {root}; fetching them.', file=sys.stderr)
    try:
        fetch_weights(files_for([name])[name], root, mirror=os.environ.get('BENCH_WEIGHTS_MIRROR'),
                      progress=settings.progress)
    except Exception as err:  # offline, no public URL, checksum: the WeightsNotFound row says what to do
        if fetch_failed is not None:
            fetch_failed.add(name)
        print(f'Method {name}: fetching its weights failed ({err}).', file=sys.stderr)
    return methods.create_method(name, **options)


class Worker:
    """Runs chunks. `threads`: torch's CPU threads (a cluster worker uses the CPUs it was given; None leaves
    torch's default). `cache_pairs`: how many decoded pairs to keep (None: every pair of the current data set,
    as the in-process run keeps them, so each pair is decoded once per data set)."""

    def __init__(self, settings: Settings, threads: int | None = None, cache_pairs: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.settings = settings
        self.device = torch.device(settings.device)
        self._name: str | None = None
        self._method = None
        self._facts: dict = {}
        self._failed: dict[tuple[str, str], Failure] = {}   # (method, data set) -> why it could not be built
        self._fetch_failed: set[str] = set()
        self._warm: set[tuple[str, str]] = set()             # (method, data set) warmed up here
        self._cache: dict[str, LoadedPair | Exception] = {}
        self._cache_dataset: str | None = None
        self._cache_pairs = cache_pairs

    # -- chunks ---------------------------------------------------------------------------------------------
    def run_chunk(self, chunk: Chunk) -> list[PairResult]:
        """All results of a chunk at once (what a cluster worker sends back)."""
        return list(self.iter_chunk(chunk))

    def iter_chunk(self, chunk: Chunk) -> Iterator[PairResult]:
        """The chunk's results, one pair at a time, in its order."""
        method = None
        if chunk.registered:
            try:
                method = self._build(chunk.method, chunk.dataset)
            except Exception as err:
                yield PairResult(None, failure=Failure.of('create', err))
                return
        else:
            self._drop_method()
        pending_profile = any(item.profile for item in chunk.items)
        items = chunk.items
        with Loader(lambda item: self._load(chunk, item)) as loader:
            for i, item in enumerate(items):
                result = PairResult(item.pair.name)
                stage = 'load'
                try:
                    loaded = loader.get(item.pair.name, item)
                    if item.fuse:
                        stage = 'fuse'
                        fused8, result.png, result.timing = self._fuse(method, loaded, chunk, pending_profile)
                        fused_rgb, pending_profile = fused8.ndim == 3, False
                    else:
                        stage = 'read-fused' if chunk.registered else 'result'
                        fused8, fused_rgb = self._read_fused(item)
                        result.reused = chunk.registered
                    if i + 1 < len(items):  # decode the next pair while this one is scored (never while timing)
                        loader.start(items[i + 1].pair.name, items[i + 1])
                    stage = 'score'
                    result.scores = self._score(chunk, loaded, fused8, fused_rgb, item.metrics)
                except Exception as err:
                    result.failure = Failure.of(stage, err)
                yield result

    def score_chunk(self, triples: list, metric_names: list[str], convention: str) -> list[tuple]:
        """`bench score` on a chunk of triples: [(triple, {metric: value} or Failure)], in order."""
        from bench.score import score_triples
        return [(t, Failure.of('score', r) if isinstance(r, Exception) else r)
                for t, r in score_triples(triples, metric_names, convention, str(self.device))]

    def describe(self) -> dict:
        """Where this worker runs (for run.json)."""
        return {'node': node_name(), 'pid': os.getpid(), 'threads': torch.get_num_threads(),
                'device': str(self.device), 'gpu': gpu_id(self.device) if self.device.type == 'cuda' else ''}

    def close(self) -> None:
        self._drop_method()
        self._cache.clear()

    # -- steps ----------------------------------------------------------------------------------------------
    def _build(self, name: str, dataset: str):
        if (name, dataset) in self._failed:
            raise RemoteFailure(self._failed[(name, dataset)])
        if self._name == name:
            return self._method
        self._drop_method()
        try:
            method = build_method(name, self.settings, self.device, self._fetch_failed)
        except Exception as err:
            self._failed[(name, dataset)] = Failure.of('create', err)
            raise
        self._name, self._method = name, method
        self._facts = {'device_name': device_name(self.device), 'threads': torch.get_num_threads(),
                       'params': count_parameters(method)}
        return method

    def _drop_method(self) -> None:
        if self._method is None:
            return
        self._name = self._method = None
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()

    def _load(self, chunk: Chunk, item: Item) -> LoadedPair:
        """Decodes a pair once (a failure is kept too, so each bad pair is reported per method)."""
        if chunk.dataset != self._cache_dataset:
            self._cache.clear()
            self._cache_dataset = chunk.dataset
        name = item.pair.name
        if name not in self._cache:
            try:
                if isinstance(item.data, Failure):
                    raise RemoteFailure(item.data)
                self._cache[name] = load_pair(chunk.manifest, item.pair, self.settings.data_root, item.data)
            except ImageError as err:
                self._cache[name] = _explain_missing_root(err, chunk, self.settings)
            except Exception as err:
                self._cache[name] = err
            while self._cache_pairs is not None and len(self._cache) > self._cache_pairs:
                self._cache.pop(next(iter(self._cache)))
        if isinstance(self._cache[name], Exception):
            raise self._cache[name]
        return self._cache[name]

    def _read_fused(self, item: Item) -> tuple[np.ndarray, bool]:
        if isinstance(item.fused_data, Failure):
            raise RemoteFailure(item.fused_data)
        return read_image_layout(item.fused, data=item.fused_data)

    def _fuse(self, method, loaded: LoadedPair, chunk: Chunk, count: bool) -> tuple[np.ndarray, bytes, dict]:
        """Fuses one pair, timed alone; returns the 8-bit image, its PNG file's bytes and its timing row's facts
        (encoding here, not in the driver: on a cluster, compressing every image would load the one driver)."""
        ir = to_tensor(loaded.ir, self.device).float() / 255
        vis = to_tensor(loaded.vis, self.device).float() / 255
        fuse = functools.partial(method.fuse, stored_rgb=loaded.stored_rgb)
        flops = peak = None
        warm = (chunk.method, chunk.dataset)
        if warm not in self._warm:
            warm_up(fuse, ir, vis, device=self.device, rounds=self.settings.warmup)
        if count:  # FLOPs and peak memory: one more untimed call, at this pair's size
            flops, peak = profile(fuse, ir, vis, device=self.device)
        fused, seconds = timed(fuse, ir, vis, device=self.device)
        self._warm.add(warm)
        fused8 = quantise(fused)
        png = encode_png(fused8, f'the fused image of {chunk.method!r} for pair {loaded.name!r}')
        timing = dict(seconds=seconds, device=str(self.device), height=loaded.ir.shape[0],
                      width=loaded.ir.shape[1], peak_memory_bytes=peak, flops=flops, node=node_name(),
                      gpu=gpu_id(self.device), **self._facts)
        return fused8, png, timing

    def _score(self, chunk: Chunk, pair: LoadedPair, fused: np.ndarray, fused_rgb: bool,
               names: tuple[str, ...]) -> dict[str, float]:
        if not names:
            return {}
        if fused.shape[:2] != pair.ir.shape:
            raise ValueError(f'Fused image of {chunk.method!r} for pair {pair.name!r} is {fused.shape[1]}x'
                             f'{fused.shape[0]}, the sources are {pair.ir.shape[1]}x{pair.ir.shape[0]} '
                             f'(width x height).')
        # conventions that read files as stored (vifb, mefb) see a gray image stored as RGB as three channels
        values = metrics.score_images(to_tensor(fused, self.device), to_tensor(pair.ir, self.device),
                                      to_tensor(pair.vis, self.device), list(names), self.settings.convention,
                                      stored_rgb=(fused_rgb, pair.ir_rgb, pair.vis_rgb))
        return {k: v.item() for k, v in values.items()}


def _explain_missing_root(err: ImageError, chunk: Chunk, settings: Settings) -> Exception:
    """On a cluster, a worker that does not see the data root at all says so (the usual set-up mistake)."""
    if settings.driver_node is None or settings.data_root is None or node_name() == settings.driver_node:
        return err
    root = chunk.manifest.path(settings.data_root, '.')
    if root.exists():
        return err
    return ImageError(f'{err} (this worker, on {node_name()}, does not see {root}: put the data root on storage '
                      f'every node mounts at the same path, or pass --ship-images)')
