"""`run_benchmark`: every method over every pair of every data set -> fuse, time, save, score -> results on disk.

A failure of one method or one pair becomes a row in errors.csv and the run goes on. Finished work found in the
run folder is not redone, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import methods
import metrics
from bench import __version__
from bench.config import data_root as default_data_root
from bench.datasets import LoadedPair, Manifest, Pair, fetch, load_manifest, load_pair, missing_files
from bench.images import read_image, write_png
from bench.progress import progress_bar
from bench.published import PublishedResults
from bench.results import RunStore
from bench.timing import count_parameters, device_name, profile, timed, warm_up
from bench.weights import fetch_weights, files_for

__all__ = ['RunConfig', 'RunSummary', 'run_benchmark']


@dataclass
class RunConfig:
    """What to run. `results` holds (name, folder or None for a manifest's declared folder, file-name pattern)."""
    methods: list[str]
    datasets: list[str]
    metrics: list[str]
    out: Path
    results: list[tuple[str, Path | None, str | None]] = field(default_factory=list)
    convention: str = metrics.DEFAULT_CONVENTION
    data_root: Path | None = None
    weights_dir: Path | None = None
    device: str = 'cpu'
    warmup: int = 1
    fetch: bool = True
    fallback: bool = True
    mirror: str | None = None
    progress: bool = True
    fresh: bool = False
    argv: list[str] = field(default_factory=list)
    method_options: dict[str, dict] = field(default_factory=dict)  # method -> factory keywords (`--weights`)


@dataclass
class RunSummary:
    out: Path
    datasets: list[str] = field(default_factory=list)
    methods: dict[str, list[str]] = field(default_factory=dict)  # data set -> methods and results it ran
    fused: int = 0
    reused: int = 0
    scored: int = 0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def _to_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W) or (H, W, 3) uint8 -> (1, C, H, W) uint8 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(image))
    t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
    return t.to(device)


def _quantise(fused: torch.Tensor) -> np.ndarray:
    """[0, 1] float (1, C, H, W) -> uint8 (H, W) or (H, W, 3), rounding as saving a PNG does."""
    arr = (fused[0].float() * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)


class _Run:
    def __init__(self, cfg: RunConfig) -> None:
        self.cfg = cfg
        self.root = Path(cfg.data_root) if cfg.data_root else default_data_root()
        self.device = torch.device(cfg.device)
        self.store = RunStore(cfg.out, fresh=cfg.fresh)
        self.summary = RunSummary(Path(cfg.out))
        self.bar = None
        self.fetch_failed: set[str] = set()  # methods whose weights failed to download: not retried per data set

    # -- data ---------------------------------------------------------------------------------------------
    def manifest(self, name: str) -> Manifest | None:
        """The manifest with its files present: fetched if missing, else the synthetic set if allowed."""
        manifest = load_manifest(name)
        if manifest.location is not None:
            return manifest
        wanted = {f for p in manifest.pairs for f in (p.ir, p.vi)}
        wanted |= {f for r in self._declared_results(manifest) for f in manifest.files()
                   if f.startswith(manifest.results[r].dir.rstrip('/') + '/')}
        missing = [f for f in missing_files(manifest, self.root) if f in wanted]
        if not missing:
            return manifest
        reason = f'{len(missing)} of its files are missing under {manifest.root(self.root)}'
        if self.cfg.fetch:
            print(f'Dataset {name}: {reason}; fetching them.', file=sys.stderr)
            try:
                fetch(manifest, self.root, mirror=self.cfg.mirror, files=missing, progress=self.cfg.progress)
                return manifest
            except Exception as err:  # offline, server down, checksum: fall back below
                reason += f' and fetching failed ({err})'
        have_pairs = any((manifest.root(self.root) / p.ir).is_file() for p in manifest.pairs)
        if have_pairs or not self.cfg.fallback:
            self.summary.notes.append(f'Dataset {name}: {reason}; missing files are error rows.')
            return manifest
        note = (f'Dataset {name} is not available: {reason}. RUNNING ON THE SYNTHETIC SET INSTEAD; its scores say '
                f'nothing about {name}. Install the data with `python -m bench data fetch {name}` or point '
                f'--data-root / $BENCH_DATA_ROOT at a copy.')
        print(note, file=sys.stderr)
        self.summary.notes.append(note)
        self.substituted[name] = 'synthetic'
        return load_manifest('synthetic')

    def _declared_results(self, manifest: Manifest) -> list[str]:
        names = {n for n, folder, _ in self.cfg.results if folder is None}
        return sorted(manifest.results) if 'all' in names else sorted(names & set(manifest.results))

    def load(self, manifest: Manifest, pair: Pair, cache: dict) -> LoadedPair:
        """Decodes a pair once per data set; a failure is cached too, so each bad pair is reported per method."""
        if pair.name not in cache:
            try:
                cache[pair.name] = load_pair(manifest, pair, self.root)
            except Exception as err:
                cache[pair.name] = err
        if isinstance(cache[pair.name], Exception):
            raise cache[pair.name]
        return cache[pair.name]

    # -- work -----------------------------------------------------------------------------------------------
    def score(self, ds: str, pair: LoadedPair, method: str, fused: np.ndarray) -> None:
        todo = [m for m in self.cfg.metrics if not self.store.is_scored(ds, pair.name, method, m, self.cfg.convention)]
        if not todo:
            return
        if fused.shape[:2] != pair.ir.shape:
            raise ValueError(f'Fused image of {method!r} for pair {pair.name!r} is {fused.shape[1]}x{fused.shape[0]}, '
                             f'the sources are {pair.ir.shape[1]}x{pair.ir.shape[0]} (width x height).')
        values = metrics.score_images(_to_tensor(fused, self.device), _to_tensor(pair.ir, self.device),
                                      _to_tensor(pair.vis, self.device), todo, self.cfg.convention)
        self.store.add_scores(ds, pair.name, method, self.cfg.convention, {k: v.item() for k, v in values.items()})
        self.summary.scored += len(values)

    def _needs_work(self, ds: str, pair: str, method: str, fuse: bool) -> bool:
        if fuse and not self.store.is_fused(ds, pair, method):
            return True
        return any(not self.store.is_scored(ds, pair, method, m, self.cfg.convention) for m in self.cfg.metrics)

    def create(self, name: str) -> methods.FusionMethod:
        """The method, its official weight files fetched first when missing (as data sets are, unless --no-fetch)."""
        options = dict(weights_dir=self.cfg.weights_dir, device=self.device, **self.cfg.method_options.get(name, {}))
        try:
            return methods.create_method(name, **options)
        except methods.WeightsNotFound:
            if not self.cfg.fetch or name in self.fetch_failed:
                raise
        root = Path(self.cfg.weights_dir) if self.cfg.weights_dir else methods.default_weights_dir()
        print(f'Method {name}: weight files missing under {root}; fetching them.', file=sys.stderr)
        try:
            fetch_weights(files_for([name])[name], root, mirror=os.environ.get('BENCH_WEIGHTS_MIRROR'),
                          progress=self.cfg.progress)
        except Exception as err:  # offline, no public URL, checksum: the WeightsNotFound row says what to do
            self.fetch_failed.add(name)
            print(f'Method {name}: fetching its weights failed ({err}).', file=sys.stderr)
        return methods.create_method(name, **options)

    def run_method(self, ds: str, manifest: Manifest, name: str, cache: dict) -> None:
        todo = [p for p in manifest.pairs if self._needs_work(ds, p.name, name, fuse=True)]
        self.bar.update(len(manifest.pairs) - len(todo))
        if not todo:
            return
        try:
            method = self.create(name)
        except Exception as err:
            self.store.add_error(ds, '*', name, 'create', err)
            self.bar.update(len(todo))
            return
        warmed = False
        facts = {'device_name': device_name(self.device), 'threads': torch.get_num_threads(),
                 'params': count_parameters(method)}
        for pair in todo:
            self.bar.set_postfix_str(f'{ds}/{name}/{pair.name}', refresh=False)
            stage = 'load'
            try:
                loaded = self.load(manifest, pair, cache)
                path = self.store.fused_path(ds, name, pair.name)
                if self.store.is_fused(ds, pair.name, name):
                    stage = 'read-fused'
                    fused8 = read_image(path)
                    self.summary.reused += 1
                else:
                    stage = 'fuse'
                    ir = _to_tensor(loaded.ir, self.device).float() / 255
                    vis = _to_tensor(loaded.vis, self.device).float() / 255
                    fuse = functools.partial(method.fuse, stored_rgb=loaded.stored_rgb)
                    flops = peak = None
                    if not warmed:  # FLOPs and peak memory: one more untimed call, at this pair's size
                        warm_up(fuse, ir, vis, device=self.device, rounds=self.cfg.warmup)
                        flops, peak = profile(fuse, ir, vis, device=self.device)
                        warmed = True
                    fused, seconds = timed(fuse, ir, vis, device=self.device)
                    fused8 = _quantise(fused)
                    write_png(path, fused8)
                    self.store.add_timing(ds, pair.name, name, seconds, str(self.device), *loaded.ir.shape,
                                          peak_memory_bytes=peak, flops=flops, **facts)
                    self.summary.fused += 1
                stage = 'score'
                self.score(ds, loaded, name, fused8)
            except Exception as err:
                self.store.add_error(ds, pair.name, name, stage, err)
            self.bar.update(1)
        del method
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()

    def run_results(self, ds: str, manifest: Manifest, results: PublishedResults, cache: dict) -> None:
        for pair in manifest.pairs:
            self.bar.set_postfix_str(f'{ds}/{results.name}/{pair.name}', refresh=False)
            if self._needs_work(ds, pair.name, results.name, fuse=False):
                stage = 'load'
                try:
                    loaded = self.load(manifest, pair, cache)
                    stage = 'result'
                    fused8 = read_image(results.find(pair))
                    stage = 'score'
                    self.score(ds, loaded, results.name, fused8)
                except Exception as err:
                    self.store.add_error(ds, pair.name, results.name, stage, err)
            self.bar.update(1)

    def published(self, manifest: Manifest) -> list[PublishedResults]:
        out = []
        for name, folder, pattern in self.cfg.results:
            if folder is not None:
                sub = folder / manifest.name
                out.append(PublishedResults(name, sub if sub.is_dir() else folder, pattern))
        for name in self._declared_results(manifest):
            declared = manifest.results[name]
            out.append(PublishedResults(name, manifest.root(self.root) / declared.dir, declared.pattern))
        return out

    def execute(self) -> RunSummary:
        self.substituted: dict[str, str] = {}
        manifests = {}
        for name in self.cfg.datasets:
            manifest = self.manifest(name)
            manifests[manifest.name] = manifest
        self.summary.datasets = list(manifests)
        plan = {ds: (m, self.published(m)) for ds, m in manifests.items()}
        self.summary.methods = {ds: self.cfg.methods + [r.name for r in pub] for ds, (_, pub) in plan.items()}
        self.write_meta(manifests, plan, finished=False)
        total = sum(len(m.pairs) * (len(self.cfg.methods) + len(pub)) for m, pub in plan.values())
        with progress_bar(total=total, desc='fuse+score', unit='pair', enable=self.cfg.progress) as self.bar:
            for ds, (manifest, pub) in plan.items():
                cache: dict = {}
                for name in self.cfg.methods:
                    self.run_method(ds, manifest, name, cache)
                for results in pub:
                    self.run_results(ds, manifest, results, cache)
        self.summary.errors = self.store.n_errors
        self.write_meta(manifests, plan, finished=True)
        return self.summary

    # -- provenance -------------------------------------------------------------------------------------------
    def write_meta(self, manifests: dict, plan: dict, finished: bool) -> None:
        meta = self.store.read_meta()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')
        invocations = meta.get('invocations', [])
        if not finished:
            invocations.append({'argv': self.cfg.argv, 'started': now, 'finished': None,
                                'methods': self.cfg.methods, 'datasets': self.cfg.datasets,
                                'metrics': self.cfg.metrics, 'convention': self.cfg.convention,
                                'results': [[n, str(f) if f else None, p] for n, f, p in self.cfg.results],
                                'data_root': str(self.root), 'substituted': self.substituted})
        else:
            invocations[-1].update(finished=now, fused=self.summary.fused, reused=self.summary.reused,
                                   scored=self.summary.scored, errors=self.summary.errors, notes=self.summary.notes)
        meta.update(tool='ivif-bench', version=__version__, invocations=invocations,
                    environment=_environment(self.device))
        meta.setdefault('datasets', {}).update({
            n: {'title': m.title, 'manifest_sha256': m.digest, 'pairs': len(m.pairs), 'citation': m.citation,
                'root': str(m.root(self.root)), 'manifest': self._manifest_argument(n)}
            for n, m in manifests.items()})
        meta.setdefault('conventions', {})[self.cfg.convention] = \
            metrics.get_convention(self.cfg.convention).description
        meta.setdefault('metrics', {}).update({
            f'{self.cfg.convention}/{n}': {'metric': n, 'label': s.label, 'higher_is_better': s.higher_is_better,
                                           'reference': s.reference, 'convention': self.cfg.convention}
            for n, s in ((n, metrics.get_metric(n, self.cfg.convention)) for n in self.cfg.metrics)})
        meta.setdefault('methods', {}).update({
            n: {'kind': 'registered', 'paper': s.paper, 'licence': s.licence,
                'weights': [w.file for w in s.weights]}
            for n, s in ((n, methods.get_method_spec(n)) for n in self.cfg.methods)})
        for ds, (_, pub) in plan.items():
            for r in pub:  # `folders`: the folder per data set (a results option may hold one per data set)
                entry = meta['methods'].get(r.name, {})
                folders = dict(entry.get('folders', {})) if entry.get('kind') == 'published' else {}
                folders[ds] = str(r.folder)
                meta['methods'][r.name] = {'kind': 'published', 'folder': str(r.folder), 'pattern': r.pattern,
                                           'folders': folders}
        self.store.write_meta(meta)

    def _manifest_argument(self, name: str) -> str:
        """How the report finds a manifest again: its registered name or the user's .toml path."""
        return next((str(Path(a).resolve()) for a in self.cfg.datasets if a.endswith('.toml') and Path(a).stem == name),
                    name)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _environment(device: torch.device) -> dict:
    env = {'python': sys.version.split()[0], 'platform': platform.platform(), 'torch': torch.__version__,
           'numpy': np.__version__, 'git_commit': _git_commit(), 'device': str(device),
           'cpu': platform.processor() or platform.machine(), 'threads': torch.get_num_threads()}
    if device.type == 'cuda':
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda)
    return env


def run_benchmark(cfg: RunConfig) -> RunSummary:
    """Runs the benchmark described by `cfg`, writing results into `cfg.out` as they are produced.

    Raises:
        KeyError: unknown data set, method or metric name (checked before any work starts).
    """
    for name in cfg.methods:
        methods.get_method_spec(name)
    for name in cfg.metrics:
        metrics.get_metric(name, cfg.convention)
    return _Run(cfg).execute()
