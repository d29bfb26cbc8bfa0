"""Data sets: manifests (package data), verification, fetching and pair loading."""
from __future__ import annotations

import difflib
import hashlib
import os
import posixpath
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import numpy as np

from bench.images import read_image_layout, to_gray

__all__ = ['Pair', 'ResultsFolder', 'Manifest', 'ManifestError', 'list_datasets', 'load_manifest', 'verify',
           'missing_files', 'fetch', 'LoadedPair', 'load_pair', 'parse_dataset_spec', 'select_pairs']

REQUIRED = ('name', 'title', 'description', 'citation', 'licence', 'homepage', 'directory', 'pairs')


class ManifestError(ValueError):
    """A manifest file is malformed."""


@dataclass(frozen=True)
class Pair:
    name: str
    ir: str
    vi: str
    split: str | None = None


@dataclass(frozen=True)
class ResultsFolder:
    """Published fused images of one method, declared in a manifest."""
    name: str
    dir: str
    pattern: str
    source: str = ''


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    description: str
    citation: str
    licence: str
    homepage: str
    directory: str
    pairs: tuple[Pair, ...]
    checksums: dict[str, str] = field(repr=False)
    sources: tuple[dict, ...] = field(default=(), repr=False)
    urls: dict[str, str] = field(default_factory=dict, repr=False)
    results: dict[str, ResultsFolder] = field(default_factory=dict, repr=False)
    official_splits: dict[str, list[str]] = field(default_factory=dict, repr=False)
    location: Path | None = None  # absolute folder for sets not under the data root (the synthetic set)
    digest: str = ''              # sha256 of the manifest files, recorded in run.json
    default_split: str | None = None  # the split `--datasets NAME` evaluates (MSRS: 'test'); NAME:all for every pair

    def root(self, data_root: Path) -> Path:
        return self.location or Path(data_root) / self.directory

    def path(self, data_root: Path, rel: str) -> Path:
        """Where the manifest's file or folder `rel` lives: `root / rel`, with `..` resolved lexically.

        Paths may climb out of the set's folder, not out of the data root (checked when the manifest is read), so
        a set can declare results kept beside it: vifbench12's `../zoo/vifbench12/fused/TarDAL`.
        """
        return Path(os.path.normpath(self.root(data_root) / rel))

    def result_pairs(self, name: str) -> frozenset[str] | None:
        """Names of the pairs whose file the declared results folder `name` lists a checksum for (a published
        sample may cover some pairs only); None when it lists none (a user manifest without checksums)."""
        res = self.results[name]
        listed = {p.name for p in self.pairs
                  if f'{res.dir}/' + res.pattern.format(pair=p.name, ir=Path(p.ir).stem, vi=Path(p.vi).stem)
                  in self.checksums}
        return frozenset(listed) if listed else None

    def data_path(self, rel: str) -> str:
        """`rel` relative to the data root, normalised (`vifbench12/../zoo/x` -> `zoo/x`): the mirror layout."""
        return posixpath.normpath(posixpath.join(self.directory, rel))

    def files(self) -> list[str]:
        return sorted(self.checksums)

    def source_of(self, path: str) -> tuple[str, str | None]:
        """(url, archive member or None) of a file: per-file URL, else the longest matching prefix source."""
        if path in self.urls:
            return self.urls[path], None
        matches = [s for s in self.sources if path.startswith(s['prefix'])]
        if not matches:
            raise ManifestError(f'Manifest {self.name!r} gives no download location for {path!r}.')
        src = max(matches, key=lambda s: len(s['prefix']))
        if 'archive' in src:
            return src['archive'], path.rsplit('/', 1)[-1]
        return src['url'] + quote(path[len(src['prefix']):]), None


def list_datasets() -> list[str]:
    """Names of the manifests shipped in `data_manifests`, plus 'synthetic'."""
    names = [p.name[:-5] for p in resources.files('data_manifests').iterdir() if p.name.endswith('.toml')]
    return sorted(names) + ['synthetic']


def _check_paths(name: str, directory: str, paths) -> None:
    """Raises ManifestError unless every path is relative and, joined to `directory`, stays inside the data root:
    `..` may climb out of the set's folder (to results kept beside it), not further."""
    for rel in paths:
        joined = posixpath.normpath(posixpath.join(directory, rel))
        if posixpath.isabs(rel) or '\\' in rel or joined == '..' or joined.startswith('../'):
            raise ManifestError(f'Manifest {name!r}: expected paths inside the data root, but got {rel!r} '
                                f'(relative to {directory!r}).')


def _parse(name: str, toml_text: str, sha_text: str, base: Path | None = None) -> Manifest:
    try:
        raw = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as err:
        raise ManifestError(f'Manifest {name!r} is not valid TOML: {err}') from None
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise ManifestError(f'Manifest {name!r} lacks {", ".join(missing)}.')
    checksums = {}
    for line in sha_text.splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            checksums[path.strip().lstrip('*')] = digest.lower()
    pairs = tuple(Pair(p['name'], p['ir'], p['vi'], p.get('split')) for p in raw['pairs'])
    results = {k: ResultsFolder(k, v['dir'], v.get('pattern', '{pair}.png'), v.get('source', ''))
               for k, v in raw.get('results', {}).items()}
    digest = hashlib.sha256((toml_text + '\0' + sha_text).encode()).hexdigest()
    default_split = raw.get('default_split')
    if default_split is not None and default_split not in {p.split for p in pairs}:
        raise ManifestError(f'Manifest {name!r}: default_split {default_split!r} names no split of its pairs.')
    location = None
    if base is not None and str(raw['directory']).startswith('.'):  # a user manifest's folder, relative to itself
        location = (base / raw['directory']).resolve()
    # a set in a folder of its own (`location`) is its own data root
    _check_paths(name, '.' if location else raw['directory'],
                 [*checksums, *(f for p in pairs for f in (p.ir, p.vi)), *(r.dir for r in results.values())])
    return Manifest(raw['name'], raw['title'], raw['description'], raw['citation'], raw['licence'], raw['homepage'],
                    raw['directory'], pairs, checksums, tuple(raw.get('sources', ())), dict(raw.get('urls', {})),
                    results, dict(raw.get('official_splits', {})), location=location, digest=digest,
                    default_split=default_split)


def load_manifest(name: str) -> Manifest:
    """The manifest `name` (see `list_datasets()`), or a path to a user's `<name>.toml` beside its `<name>.sha256`.

    Raises:
        KeyError: unknown name, with close matches.
        ManifestError: malformed manifest.
    """
    if name.endswith('.toml'):
        path = Path(name)
        if not path.is_file():
            raise KeyError(f'Manifest file not found: {path}')
        sha = path.with_suffix('.sha256')
        return _parse(path.stem, path.read_text(), sha.read_text() if sha.is_file() else '', path.parent)
    if name == 'synthetic':
        from bench.synthetic import synthetic_manifest
        return synthetic_manifest()
    package = resources.files('data_manifests')
    toml_file = package / f'{name}.toml'
    if not toml_file.is_file():
        close = difflib.get_close_matches(name, list_datasets(), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
        raise KeyError(f"Unknown dataset {name!r}.{hint} Available: {', '.join(list_datasets())}.")
    sha_file = package / f'{name}.sha256'
    return _parse(name, toml_file.read_text(), sha_file.read_text() if sha_file.is_file() else '')


def parse_dataset_spec(spec: str) -> tuple[str, str | None]:
    """`NAME`, `NAME:SPLIT` or a `.toml` path (optionally `:SPLIT`) -> (name or path, split or None).

    >>> parse_dataset_spec('msrs:test'), parse_dataset_spec('tno42'), parse_dataset_spec('my/set.toml:all')
    (('msrs', 'test'), ('tno42', None), ('my/set.toml', 'all'))
    """
    head, sep, tail = spec.rpartition(':')
    if sep and head and tail and '/' not in tail and '\\' not in tail and not tail.endswith('.toml'):
        return head, tail
    return spec, None


def select_pairs(manifest: Manifest, split: str | None = None) -> tuple[str, tuple[Pair, ...]]:
    """The pairs a run evaluates and the label its results carry.

    No split: the manifest's `default_split` (MSRS: its test pairs, so training pairs are never scored by
    accident), else every pair. `all`: every pair. The label is the manifest's name, with `:SPLIT` when only one
    split is used (`msrs:test`).

    Raises:
        KeyError: for a split the manifest does not have, listing those it has.
    """
    split = manifest.default_split if split is None else split
    if split in (None, 'all'):
        return manifest.name, manifest.pairs
    pairs = tuple(p for p in manifest.pairs if p.split == split)
    if not pairs:
        splits = sorted({p.split for p in manifest.pairs if p.split})
        raise KeyError(f"Unknown split {split!r} of dataset {manifest.name!r}. Its splits: "
                       f"{', '.join(splits + ['all']) if splits else 'none (use the name alone)'}.")
    return f'{manifest.name}:{split}', pairs


def missing_files(manifest: Manifest, data_root: Path) -> list[str]:
    return [f for f in manifest.files() if not manifest.path(data_root, f).is_file()]


def verify(manifest: Manifest, data_root: Path, progress: bool = False) -> dict[str, str]:
    """Checks every file of the manifest; returns {path: problem} for the files that are missing or differ."""
    from bench.download import sha256_file
    from bench.progress import progress_bar
    problems = {}
    for rel in progress_bar(manifest.files(), desc=f'verify {manifest.name}', unit='file', enable=progress):
        path = manifest.path(data_root, rel)
        if not path.is_file():
            problems[rel] = 'missing'
        elif (actual := sha256_file(path)) != manifest.checksums[rel]:
            problems[rel] = f'sha256 {actual}, expected {manifest.checksums[rel]}'
    return problems


def fetch(manifest: Manifest, data_root: Path, *, mirror: str | None = None, files: list[str] | None = None,
          progress: bool = True) -> list[Path]:
    """Downloads the manifest's files (all, or `files`) into the data root; resumable and checksum-verified.

    `mirror` replaces every official URL by `<mirror>/<directory>/<path>`.
    """
    from bench.download import FileToFetch, fetch_files
    todo = []
    for rel in files if files is not None else manifest.files():
        if mirror:
            url, member = f"{mirror.rstrip('/')}/{quote(manifest.data_path(rel))}", None
        else:
            url, member = manifest.source_of(rel)
        todo.append(FileToFetch(url, manifest.path(data_root, rel), manifest.checksums[rel], member))
    return fetch_files(todo, progress=progress)


@dataclass(frozen=True)
class LoadedPair:
    """A decoded pair: IR (H, W) uint8 gray; visible (H, W) gray or (H, W, 3) RGB uint8, as stored.

    `ir_rgb`, `vis_rgb`: whether each file stores three channels (a gray image may be stored so).
    """
    name: str
    ir: np.ndarray
    vis: np.ndarray
    ir_rgb: bool = False
    vis_rgb: bool = False

    @property
    def stored_rgb(self) -> tuple[bool, bool]:
        return self.ir_rgb, self.vis_rgb


def load_pair(manifest: Manifest, pair: Pair, data_root: Path,
              data: tuple[bytes, bytes] | None = None) -> LoadedPair:
    """Decodes one pair, checking each file's sha256 when the manifest lists it. `data`: the IR and visible files'
    bytes when they were read elsewhere (by a cluster's driver for a worker that does not see the data root).

    Raises:
        ImageError, ChecksumError: naming the file.
        ValueError: when IR and visible sizes differ, naming both files.
    """
    ir_path, vi_path = manifest.path(data_root, pair.ir), manifest.path(data_root, pair.vi)
    ir_data, vi_data = data or (None, None)
    ir, ir_rgb = read_image_layout(ir_path, manifest.checksums.get(pair.ir), ir_data)
    vis, vis_rgb = read_image_layout(vi_path, manifest.checksums.get(pair.vi), vi_data)
    ir = to_gray(ir)
    if ir.shape[:2] != vis.shape[:2]:
        raise ValueError(f'Size mismatch in pair {pair.name!r}: {ir_path} is {ir.shape[1]}x{ir.shape[0]} but '
                         f'{vi_path} is {vis.shape[1]}x{vis.shape[0]} (width x height).')
    return LoadedPair(pair.name, ir, vis, ir_rgb, vis_rgb)
