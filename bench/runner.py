"""`run_benchmark`: every method over every pair of every data set -> fuse, time, save, score -> results on disk.

A failure of one method or one pair becomes a row in errors.csv and the run goes on. Finished work found in the
run folder is not redone, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
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
from bench.datasets import Manifest, Pair, fetch, load_manifest, missing_files, parse_dataset_spec, select_pairs
from bench.executors import ExecutorConfig, open_executor
from bench.executors.work import Chunk, Failure, Item, PairResult, Settings
from bench.images import write_bytes
from bench.progress import progress_bar
from bench.provenance import describe_change, digest, file_identity, fused_key, method_identity, score_key
from bench.published import PublishedResults
from bench.results import RunStore
from bench.weights import fetch_weights, files_for

__all__ = ['RunConfig', 'RunSummary', 'run_benchmark', 'METRICS_VERSION']

# The version of the metric code recorded in every score's key: scores of another version are recomputed.
METRICS_VERSION = __version__


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
    pairs: list[str] | None = None  # only these pairs (by name) of every data set
    limit: int | None = None        # only the first N pairs of every data set (after `pairs`)
    skipped_methods: dict[str, list[str]] = field(default_factory=dict)  # method -> user-supplied files it waits for
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)  # where the work runs (this process or Ray)


@dataclass
class RunSummary:
    out: Path
    datasets: list[str] = field(default_factory=list)
    methods: dict[str, list[str]] = field(default_factory=dict)  # data set -> methods and results it ran
    fused: int = 0
    reused: int = 0
    complete: int = 0     # (data set, pair, method) triples already complete in the run folder: nothing to do
    scored: int = 0
    errors: int = 0
    redone: dict[str, int] = field(default_factory=dict)  # why stale work was redone -> fused images / score sets
    notes: list[str] = field(default_factory=list)


@dataclass
class Selection:
    """One data set of a run: its manifest, the pairs the run evaluates and the label its results carry."""
    label: str
    manifest: Manifest
    pairs: tuple[Pair, ...]
    published: list[PublishedResults] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # pair -> digest of its two input files


class _Run:
    """Plans and records a run: which work is missing, and every row and image written. The executor computes."""

    def __init__(self, cfg: RunConfig, executor) -> None:
        self.cfg = cfg
        self.executor = executor
        self.root = Path(cfg.data_root) if cfg.data_root else default_data_root()
        self.device = torch.device(cfg.device)
        self.store = RunStore(cfg.out, fresh=cfg.fresh)
        self.summary = RunSummary(Path(cfg.out))
        self.bar = None
        self.identities = {name: method_identity(name, cfg.method_options.get(name, {})) for name in cfg.methods}

    # -- data ---------------------------------------------------------------------------------------------
    def manifest(self, manifest: Manifest, pairs: tuple[Pair, ...]) -> Manifest:
        """The manifest with the files of `pairs` (and declared results) present: fetched if missing, else the
        synthetic set if allowed."""
        name = manifest.name
        if manifest.location is not None:
            return manifest
        wanted = {f for p in pairs for f in (p.ir, p.vi)}
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
        have_pairs = any(manifest.path(self.root, p.ir).is_file() for p in pairs)
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

    def select(self, spec: str) -> Selection:
        """The data set `spec` (`NAME`, `NAME:SPLIT` or a .toml path) with the pairs this run evaluates."""
        name, split = parse_dataset_spec(spec)
        requested = load_manifest(name)
        manifest = self.manifest(requested, self._pairs(requested, split)[1])
        label, pairs = self._pairs(manifest, split if manifest is requested else None)
        selection = Selection(label, manifest, pairs)
        for pair in pairs:
            selection.inputs[pair.name] = digest([file_identity(manifest.path(self.root, f), manifest.checksums.get(f))
                                                  for f in (pair.ir, pair.vi)])
        selection.published = self.published(selection)
        return selection

    def _pairs(self, manifest: Manifest, split: str | None) -> tuple[str, tuple[Pair, ...]]:
        label, pairs = select_pairs(manifest, split)
        if self.cfg.pairs:
            pairs = tuple(p for p in pairs if p.name in set(self.cfg.pairs))
        if self.cfg.limit is not None:
            pairs = pairs[:self.cfg.limit]
        return label, pairs

    # -- provenance -----------------------------------------------------------------------------------------
    def expected_key(self, ds: Selection, pair: Pair, name: str, results: PublishedResults | None) -> str:
        """The fused-image key `name` should have for `pair` now."""
        if results is None:
            return fused_key(ds.inputs[pair.name], self.identities[name]['key'])
        try:
            path = results.find(pair)
        except Exception:
            return fused_key(ds.inputs[pair.name], 'missing')
        rel = Path(os.path.relpath(path, ds.manifest.root(self.root))).as_posix()  # `../zoo/...` for some results
        return fused_key(ds.inputs[pair.name], digest(file_identity(path, ds.manifest.checksums.get(rel))))

    def find_stale(self, selections: list[Selection]) -> None:
        """Discards work whose provenance key changed (inputs, method, weights, result file, metric code) so it is
        redone, and says how much and why."""
        stale_fused, stale_scores, why = set(), set(), {}
        conv = self.cfg.convention
        for ds in selections:
            jobs = [(n, None) for n in self.cfg.methods] + [(r.name, r) for r in ds.published]
            for name, results in jobs:
                for pair in ds.pairs if results is None else results.select(ds.pairs):
                    expected = self.expected_key(ds, pair, name, results)
                    stored = self.store.fused_key(ds.label, pair.name, name) if results is None else None
                    if stored is not None and (stored != expected
                                               or not self.store.fused_path(ds.label, name, pair.name).is_file()):
                        reason = ('fused image missing' if stored == expected else
                                  describe_change(stored, expected))
                        stale_fused.add((ds.label, pair.name, name))
                        why.setdefault(reason, set()).add(f'{ds.label}/{name}')
                        continue
                    want = score_key(expected, METRICS_VERSION)
                    producer = 'result file changed' if results is not None else 'method, options or weights changed'
                    for metric, key in self.store.score_keys(ds.label, pair.name, name, conv).items():
                        if key != want:
                            stale_scores.add((ds.label, pair.name, name, metric, conv))
                            why.setdefault(describe_change(key, want, producer), set()).add(f'{ds.label}/{name}')
        if not stale_fused and not stale_scores:
            return
        self.store.discard(stale_fused, stale_scores)
        triples = {k[:3] for k in stale_scores} | stale_fused
        counts = {}
        for reason, where in why.items():
            counts[reason] = sum(1 for t in triples if f'{t[0]}/{t[2]}' in where)
        self.summary.redone = counts
        detail = '; '.join(f'{reason}: {", ".join(sorted(where)[:6])}{" ..." if len(where) > 6 else ""}'
                           for reason, where in why.items())
        rescored = len(triples) - len(stale_fused)
        what = ' and '.join(filter(None, [f'{len(stale_fused)} fused image(s)' if stale_fused else '',
                                          f'the scores of {rescored} fused image(s)' if rescored else '']))
        print(f'Redoing {what} whose provenance changed ({detail}).', file=sys.stderr)

    # -- work -----------------------------------------------------------------------------------------------
    def _missing_metrics(self, ds: str, pair: str, method: str) -> tuple[str, ...]:
        return tuple(m for m in self.cfg.metrics if not self.store.is_scored(ds, pair, method, m, self.cfg.convention))

    def plan(self, selections: list[Selection]) -> list[Chunk]:
        """The work the run folder lacks, as chunks: per data set, each method's pairs (fuse where no fused image
        is kept, score the metrics still missing), then each set of published results' pairs (score only)."""
        size = self.executor.chunk_size
        chunks = []
        for ds in selections:
            groups = [(name, None) for name in self.cfg.methods] + [(r.name, r) for r in ds.published]
            for name, results in groups:
                items = []
                for pair in ds.pairs if results is None else results.select(ds.pairs):
                    fused = results is None and self.store.is_fused(ds.label, pair.name, name)
                    todo = self._missing_metrics(ds.label, pair.name, name)
                    if (fused or results is not None) and not todo:
                        self.summary.complete += 1
                        continue
                    item = Item(pair, self.expected_key(ds, pair, name, results), todo, fuse=not fused)
                    if fused:
                        item.fused = self.store.fused_path(ds.label, name, pair.name)
                    elif results is not None:
                        item.fuse = False
                        try:
                            item.fused = results.find(pair)
                        except Exception as err:  # the worker reports it at the stage where it would have failed
                            item.fused_data = Failure.of('result', err)
                    items.append(item)
                if items and results is None:
                    items[0].profile = True  # FLOPs and peak memory once per method and data set
                for start in range(0, len(items), size or len(items) or 1):
                    chunks.append(Chunk(ds.label, ds.manifest, name, items[start:start + (size or len(items))],
                                        registered=results is None))
        return chunks

    def settings(self) -> Settings:
        return Settings(data_root=self.root, device=self.cfg.device, convention=self.cfg.convention,
                        warmup=self.cfg.warmup, weights_dir=self.cfg.weights_dir,
                        method_options=self.cfg.method_options, fetch=self.cfg.fetch, progress=self.cfg.progress)

    def prefetch_weights(self, chunks: list[Chunk]) -> None:
        """Before the work goes to other processes: the official weight files that are missing, downloaded here
        (once, into the weights directory the workers read), as `bench run` does in-process."""
        if not self.cfg.fetch:
            return
        root = Path(self.cfg.weights_dir) if self.cfg.weights_dir else methods.default_weights_dir()
        for name in dict.fromkeys(c.method for c in chunks if c.registered):
            if self.cfg.method_options.get(name, {}).get('weights') is not None:
                continue
            files = files_for([name]).get(name, [])
            missing = [f for f in files if not (root / f.file).is_file()]
            if not missing:
                continue
            print(f'Method {name}: weight files missing under {root}; fetching them.', file=sys.stderr)
            try:
                fetch_weights(missing, root, mirror=os.environ.get('BENCH_WEIGHTS_MIRROR'),
                              progress=self.cfg.progress)
            except Exception as err:  # the worker's WeightsNotFound row says what to do
                print(f'Method {name}: fetching its weights failed ({err}).', file=sys.stderr)

    def record(self, chunk: Chunk, result: PairResult) -> None:
        """Writes one pair's results (the driver is the run folder's only writer): the fused image, its timing
        row, its scores, its error row."""
        ds, name = chunk.dataset, chunk.method
        if result.pair is None:  # the method could not be built: one row per method and data set
            if (ds, name) not in self.create_failed:
                self.create_failed.add((ds, name))
                f = result.failure
                self.store.add_failure(ds, '*', name, f.stage, f.error, f.message)
            self.bar.update(len(chunk))
            return
        item = chunk.item(result.pair)
        failure = result.failure
        if result.png is not None:
            try:
                write_bytes(self.store.fused_path(ds, name, result.pair), result.png)
            except Exception as err:  # not kept: not scored either (the in-process order)
                failure, result.scores = Failure.of('fuse', err), {}
            else:
                self.store.add_timing(ds, result.pair, name, key=item.key, **result.timing)
                self.summary.fused += 1
        self.summary.reused += result.reused
        if result.scores:
            self.store.add_scores(ds, result.pair, name, self.cfg.convention, result.scores,
                                  key=score_key(item.key, METRICS_VERSION))
            self.summary.scored += len(result.scores)
        if failure is not None:
            self.store.add_failure(ds, result.pair, name, failure.stage, failure.error, failure.message)
        self.bar.set_postfix_str(f'{ds}/{name}/{result.pair}', refresh=False)
        self.bar.update(1)

    def published(self, ds: Selection) -> list[PublishedResults]:
        manifest = ds.manifest
        out = []
        for name, folder, pattern in self.cfg.results:
            if folder is not None:
                sub = folder / manifest.name
                out.append(PublishedResults(name, sub if sub.is_dir() else folder, pattern))
        for name in self._declared_results(manifest):
            declared = manifest.results[name]
            out.append(PublishedResults(name, manifest.path(self.root, declared.dir), declared.pattern,
                                        manifest.result_pairs(name)))
        return out

    def execute(self) -> RunSummary:
        self.substituted: dict[str, str] = {}
        selections = [self.select(spec) for spec in self.cfg.datasets]
        self.check_pairs(selections)
        self.summary.datasets = [s.label for s in selections]
        self.summary.methods = {s.label: self.cfg.methods + [r.name for r in s.published] for s in selections}
        self.find_stale(selections)
        self.write_meta(selections, finished=False)
        chunks = self.plan(selections)
        self.create_failed: set[tuple[str, str]] = set()
        if self.executor.remote:
            self.prefetch_weights(chunks)
        total = sum(len(s.pairs) * len(self.cfg.methods) + sum(len(r.select(s.pairs)) for r in s.published)
                    for s in selections)
        with progress_bar(total=total, desc='fuse+score', unit='pair', enable=self.cfg.progress) as self.bar:
            self.bar.update(self.summary.complete)
            for chunk, result in self.executor.run(chunks, self.settings()):
                self.record(chunk, result)
        self.summary.errors = self.store.n_errors
        self.write_meta(selections, finished=True)
        return self.summary

    def check_pairs(self, selections: list[Selection]) -> None:
        """--pairs names that no data set of the run has are a usage error (with close matches)."""
        if not self.cfg.pairs:
            return
        have = sorted({p.name for s in selections for p in select_pairs(s.manifest, 'all')[1]})
        unknown = [p for p in self.cfg.pairs if p not in have]
        if unknown:
            name = unknown[0]
            close = [h for h in have if h.lstrip('0') == name.lstrip('0')] or difflib.get_close_matches(name, have, 3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
            shown = ', '.join(have[:8]) + (f', ... ({len(have)} pairs)' if len(have) > 8 else '')
            raise KeyError(f'Unknown pair {name!r} in {", ".join(s.label for s in selections)}.{hint} '
                           f'Pairs: {shown}.')
        for s in selections:
            if not s.pairs:
                self.summary.notes.append(f'Dataset {s.label}: none of the --pairs {",".join(self.cfg.pairs)}.')

    # -- provenance -------------------------------------------------------------------------------------------
    def write_meta(self, selections: list[Selection], finished: bool) -> None:
        meta = self.store.read_meta()
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')
        invocations = meta.get('invocations', [])
        if not finished:
            invocations.append({'argv': self.cfg.argv, 'started': now, 'finished': None,
                                'methods': self.cfg.methods, 'datasets': self.cfg.datasets,
                                'pairs': self.cfg.pairs, 'limit': self.cfg.limit,
                                'metrics': self.cfg.metrics, 'convention': self.cfg.convention,
                                'results': [[n, str(f) if f else None, p] for n, f, p in self.cfg.results],
                                'data_root': str(self.root), 'substituted': self.substituted,
                                'skipped_methods': self.cfg.skipped_methods,
                                'metrics_version': METRICS_VERSION, 'executor': self.executor.describe()})
        else:
            invocations[-1].update(finished=now, fused=self.summary.fused, reused=self.summary.reused,
                                   complete=self.summary.complete, redone=self.summary.redone,
                                   scored=self.summary.scored, errors=self.summary.errors, notes=self.summary.notes)
        meta.update(tool='ivif-bench', version=__version__, invocations=invocations,
                    environment=dict(_environment(self.device), executor=self.executor.summary()))
        meta.setdefault('datasets', {}).update({
            s.label: {'title': s.manifest.title, 'manifest_sha256': s.manifest.digest, 'pairs': len(s.pairs),
                      'citation': s.manifest.citation, 'root': str(s.manifest.root(self.root)),
                      'manifest': self._manifest_argument(s.manifest.name),
                      'split': s.label.partition(':')[2] or None}
            for s in selections})
        meta.setdefault('conventions', {})[self.cfg.convention] = \
            metrics.get_convention(self.cfg.convention).description
        meta.setdefault('metrics', {}).update({
            f'{self.cfg.convention}/{n}': {'metric': n, 'label': s.label, 'higher_is_better': s.higher_is_better,
                                           'reference': s.reference, 'convention': self.cfg.convention}
            for n, s in ((n, metrics.get_metric(n, self.cfg.convention)) for n in self.cfg.metrics)})
        meta.setdefault('methods', {}).update({
            n: {'kind': 'registered', 'paper': s.paper, 'licence': s.licence,
                'weights': self.identities[n]['weights'], 'options': self.identities[n]['options'],
                'key': self.identities[n]['key']}
            for n, s in ((n, methods.get_method_spec(n)) for n in self.cfg.methods)})
        for s in selections:
            for r in s.published:  # `folders`: the folder per data set (a results option may hold one per data set)
                entry = meta['methods'].get(r.name, {})
                folders = dict(entry.get('folders', {})) if entry.get('kind') == 'published' else {}
                folders[s.label] = str(r.folder)
                meta['methods'][r.name] = {'kind': 'published', 'folder': str(r.folder), 'pattern': r.pattern,
                                           'folders': folders}
        self.store.write_meta(meta)

    def _manifest_argument(self, name: str) -> str:
        """How the report finds a manifest again: its registered name or the user's .toml path."""
        for spec in self.cfg.datasets:
            path = parse_dataset_spec(spec)[0]
            if path.endswith('.toml') and Path(path).stem == name:
                return str(Path(path).resolve())
        return name


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
    if device.type == 'cuda' and torch.cuda.is_available():  # a cluster's driver may have no GPU of its own
        env.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda)
    return env


def run_benchmark(cfg: RunConfig) -> RunSummary:
    """Runs the benchmark described by `cfg`, writing results into `cfg.out` as they are produced.

    Raises:
        KeyError: unknown data set, split, pair, method or metric name (checked before any fusion starts).
    """
    for name in cfg.methods:
        methods.get_method_spec(name)
    for name in cfg.metrics:
        metrics.get_metric(name, cfg.convention)
    if cfg.limit is not None and cfg.limit < 1:
        raise ValueError(f'Expected `limit` >= 1, but got {cfg.limit}.')
    with open_executor(cfg.executor) as executor:
        cfg = dataclasses.replace(cfg, device=executor.resolve_device(cfg.device))
        return _Run(cfg, executor).execute()
