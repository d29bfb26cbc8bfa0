"""Fusing a zoo reference set through the benchmark runner and comparing with the authors' published images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.datasets import load_manifest
from bench.images import read_image
from bench.runner import RunConfig, run_benchmark


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float('inf') if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def compare_with_published(method: str, dataset: str, results: str, tmp: Path, data_root: Path,
                           weights_dir: Path) -> list[tuple[str, float, int]]:
    """Runs `method` on every pair of the packaged `dataset` (what `bench run --methods METHOD --datasets DATASET`
    does, without the report) and returns (pair, PSNR dB, max |difference|) against the declared `results`."""
    out = tmp / 'run'
    summary = run_benchmark(RunConfig(methods=[method], datasets=[dataset], metrics=['en'], out=out,
                                      data_root=data_root, weights_dir=weights_dir, device='cpu', warmup=0,
                                      fetch=False, fallback=False, progress=False))
    manifest = load_manifest(dataset)
    assert summary.errors == 0 and summary.fused == len(manifest.pairs), (out / 'errors.csv').read_text()
    published = manifest.results[results]
    rows = []
    for pair in manifest.pairs:
        ours = read_image(out / 'fused' / dataset / method / f'{pair.name}.png')
        ref = read_image(manifest.root(data_root) / published.dir / published.pattern.format(pair=pair.name))
        assert ours.shape == ref.shape, (pair.name, ours.shape, ref.shape)
        rows.append((pair.name, psnr(ours, ref), int(np.abs(ours.astype(int) - ref.astype(int)).max())))
    return rows


def summary_line(method: str, rows: list[tuple[str, float, int]]) -> str:
    values = np.array([r[1] for r in rows])
    return (f'{method}: {len(rows)} images, PSNR min {values.min():.2f} median {np.median(values):.2f} dB, '
            f'max |diff| {max(r[2] for r in rows)}')
