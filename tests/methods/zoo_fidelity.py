"""Helpers of the method zoo's fidelity tests: fuse reference pairs through `bench run`'s runner and compare.

Each test fuses its pairs as a user's `python -m bench run --methods NAME --datasets SET` would (the packaged
manifest, or a subset of it), then compares every fused PNG with the published image: PSNR and max |difference|.
The full reference sets take minutes per method on a CPU; `BENCH_FULL_FIDELITY=1` runs them, otherwise a test fuses
the subset it names (the suite's time budget).
"""
from __future__ import annotations

import csv
import json
import os
import tomllib
from pathlib import Path

import numpy as np

from bench.datasets import load_manifest
from bench.images import read_image, to_gray
from bench.runner import RunConfig, run_benchmark
from tests.conftest import REPO

HEAD = ('title', 'description', 'citation', 'licence', 'homepage', 'directory')
FULL = os.environ.get('BENCH_FULL_FIDELITY', '') not in ('', '0')


def subset_manifest(tmp: Path, dataset: str, pairs: list[str] | None) -> str:
    """A packaged data set's name, or (for `pairs`) a user manifest of those pairs reading the same folder."""
    if pairs is None:
        return dataset
    spec = tomllib.loads((REPO / 'data_manifests' / f'{dataset}.toml').read_text())
    rows = {p['name']: p for p in spec['pairs']}
    head = ''.join(f'{k} = {json.dumps(spec[k])}\n' for k in HEAD)
    body = ''.join(f'  {{ name = "{p}", ir = "{rows[p]["ir"]}", vi = "{rows[p]["vi"]}" }},\n' for p in pairs)
    toml = tmp / f'{dataset}_subset.toml'
    toml.write_text(f'name = "{dataset}_subset"\n{head}pairs = [\n{body}]\n')
    wanted = {rows[p][k] for p in pairs for k in ('ir', 'vi')}
    sums = [ln for ln in (REPO / 'data_manifests' / f'{dataset}.sha256').read_text().splitlines()
            if ln.split(maxsplit=1)[-1] in wanted]
    toml.with_suffix('.sha256').write_text('\n'.join(sums) + '\n')
    return str(toml)


def bench_run(tmp: Path, method: str, dataset: str, pairs: list[str] | None, data_root: Path,
              weights_dir: Path, **options) -> Path:
    """Runs the runner (what `python -m bench run` calls), with factory `options` for the method; returns the folder
    of the method's fused PNGs."""
    name = subset_manifest(tmp, dataset, pairs)
    out = tmp / 'run'
    summary = run_benchmark(RunConfig(methods=[method], datasets=[name], metrics=['en'], out=out,
                                      data_root=data_root, weights_dir=weights_dir, device='cpu', warmup=0,
                                      fetch=False, fallback=False, progress=False,
                                      method_options={method: options}))
    with open(out / 'timing.csv', newline='') as fh:
        fused = len(list(csv.DictReader(fh)))
    assert summary.errors == 0 and fused == summary.fused, (out / 'errors.csv').read_text()
    label = Path(name).stem if pairs is not None else dataset
    return out / 'fused' / label / method


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def compare(ours: Path, reference: Path, gray: bool | None = None) -> tuple[float, int]:
    """(PSNR, max |difference|) of two image files. `gray`: compare their BT.601 gray images (the benchmark's own
    reading of a fused image for gray metrics); None: only when one of the two is gray (a script that writes a gray
    fusion as three channels differing at a few pixels, SeAFusion)."""
    a, b = read_image(ours), read_image(reference)
    if gray or (gray is None and a.ndim != b.ndim):
        a, b = to_gray(a), to_gray(b)
    assert a.shape == b.shape, f'{ours.name}: shape {a.shape}, reference {b.shape}'
    return psnr(a, b), int(np.abs(a.astype(int) - b.astype(int)).max())


def published_rows(fused: Path, dataset: str, results: str, data_root: Path) -> list[tuple[str, float, int]]:
    """(pair, PSNR, max |difference|) of the fused PNGs in `fused` against the published images that the packaged
    manifest `dataset` declares as `[results.<results>]`, on the pairs it lists a file for (its folder may lie
    beside the set's own, `../zoo/...`)."""
    manifest = load_manifest(dataset)
    res = manifest.results[results]
    rows = []
    for pair in manifest.pairs:
        if pair.name in (manifest.result_pairs(results) or ()):
            name = res.pattern.format(pair=pair.name, ir=Path(pair.ir).stem, vi=Path(pair.vi).stem)
            reference = manifest.path(data_root, f'{res.dir}/{name}')
            rows.append((pair.name, *compare(fused / f'{pair.name}.png', reference)))
    return rows


def check_rows(label: str, rows: list[tuple[str, float, int]], floor: float, max_diff: int) -> None:
    """Prints PSNR min / median and the max difference; asserts the floor and bound on every image."""
    values = np.array([r[1] for r in rows])
    print(f'{label}: {len(rows)} images, PSNR min {values.min():.2f} median {np.median(values):.2f} dB, '
          f'max |diff| {max(r[2] for r in rows)}')
    bad = [r for r in rows if r[1] < floor or r[2] > max_diff]
    assert not bad, f'{label}: images below {floor} dB or off by more than {max_diff}: {bad}'
