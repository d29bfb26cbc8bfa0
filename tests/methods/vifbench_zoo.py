"""Fidelity against the method zoo's VIF-Benchmark references (`zoo/vifbench12/fused/<Method>`, declared as
published results of vifbench12): fuse exactly the pairs a reference folder covers through the benchmark runner, as
a user's `bench run` would, and compare the saved PNGs with the published ones."""
from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import numpy as np

from bench.datasets import load_manifest
from bench.images import read_image
from bench.runner import RunConfig, run_benchmark
from tests.conftest import REPO

HEAD = ('title', 'description', 'citation', 'licence', 'homepage', 'directory')


def _subset_manifest(tmp: Path, pairs: set[str]) -> Path:
    """A user manifest for `pairs` of vifbench12, reading the same folder under the data root."""
    spec = tomllib.loads((REPO / 'data_manifests' / 'vifbench12.toml').read_text())
    rows = [p for p in spec['pairs'] if p['name'] in pairs]
    # JSON strings are valid TOML basic strings for this text (no control characters)
    lines = ['name = "vifbench12_zoo"', *(f'{k} = {json.dumps(spec[k])}' for k in HEAD), 'pairs = [',
             *(f'  {{ name = {json.dumps(p["name"])}, ir = {json.dumps(p["ir"])}, vi = {json.dumps(p["vi"])} }},'
               for p in rows), ']']
    toml = tmp / 'vifbench12_zoo.toml'
    toml.write_text('\n'.join(lines) + '\n')
    wanted = {p[k] for p in rows for k in ('ir', 'vi')}
    sha = [ln for ln in (REPO / 'data_manifests' / 'vifbench12.sha256').read_text().splitlines()
           if ln.split(maxsplit=1)[-1] in wanted]
    toml.with_suffix('.sha256').write_text('\n'.join(sha) + '\n')
    return toml


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def reproduce(method: str, reference: str, tmp: Path, data_root: Path, weights_dir: Path,
              **options) -> list[tuple[str, float, int]]:
    """(pair, PSNR in dB, max |difference|) of `method`'s fused images against every image of the published
    results `reference` of vifbench12."""
    manifest = load_manifest('vifbench12')
    pairs = manifest.result_pairs(reference)
    assert pairs, f'vifbench12 lists no files of {reference}'
    out = tmp / 'run'
    summary = run_benchmark(RunConfig(methods=[method], datasets=[str(_subset_manifest(tmp, pairs))], metrics=['en'],
                                      out=out, data_root=data_root, weights_dir=weights_dir, device='cpu', warmup=0,
                                      fetch=False, fallback=False, progress=False,
                                      method_options={method: options} if options else {}))
    assert summary.errors == 0 and summary.fused == len(pairs), (out / 'errors.csv').read_text()
    with open(out / 'timing.csv', newline='') as fh:
        assert len(list(csv.DictReader(fh))) == len(pairs)
    folder = manifest.path(data_root, manifest.results[reference].dir)
    rows = []
    for pair in sorted(pairs):
        ours = read_image(out / 'fused' / 'vifbench12_zoo' / method / f'{pair}.png')
        ref = read_image(folder / f'{pair}.png')
        assert ours.shape == ref.shape, pair
        rows.append((pair, psnr(ours, ref), int(np.abs(ours.astype(int) - ref.astype(int)).max())))
    return rows


def summary_line(method: str, rows: list[tuple[str, float, int]]) -> str:
    values = np.array([r[1] for r in rows])
    return (f'{method}: {len(rows)} images, PSNR min {values.min():.2f} median {np.median(values):.2f} dB, '
            f'max |diff| {max(r[2] for r in rows)}')
