"""Run folders built by hand for the report tests: known values, so every table cell is predictable."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

SCORE_COLUMNS = ['dataset', 'pair', 'method', 'metric', 'convention', 'value']
FACTS = {'en': ('EN', True), 'mse': ('MSE', False), 'qabf': ('Qabf', True)}


def write_run(folder: Path, values: dict[str, dict[str, list[float]]], *, dataset: str = 'mini',
              convention: str = 'default', facts: dict[str, tuple[str, bool]] | None = None,
              pairs: list[str] | None = None, timing: pd.DataFrame | None = None,
              errors: list[tuple] | None = None, meta_extra: dict | None = None) -> Path:
    """A run folder: `values[method][metric]` lists one value per pair (NaN: no row, as when a method failed)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(next(iter(next(iter(values.values())).values())))
    pairs = pairs or [f'{i + 1:02d}' for i in range(n)]
    rows = [(dataset, pairs[i], method, metric, convention, v)
            for method, per_metric in values.items() for metric, vals in per_metric.items()
            for i, v in enumerate(vals) if not np.isnan(v)]
    pd.DataFrame(rows, columns=SCORE_COLUMNS).to_csv(folder / 'scores.csv', index=False)
    if timing is None:
        (folder / 'timing.csv').write_text('dataset,pair,method,seconds,device,height,width\n')
    else:
        timing.to_csv(folder / 'timing.csv', index=False)
    lines = ['dataset,pair,method,stage,error,message'] + [','.join(map(str, e)) for e in errors or []]
    (folder / 'errors.csv').write_text('\n'.join(lines) + '\n')
    facts = FACTS if facts is None else facts
    meta = {'version': '0.1.0', 'datasets': {dataset: {'title': 'hand-made', 'pairs': n, 'manifest_sha256': 'ab' * 32}},
            'conventions': {convention: 'Textbook definitions.'},
            'metrics': {f'{convention}/{k}': {'metric': k, 'label': label, 'higher_is_better': hib,
                                              'reference': f'definition of {label}', 'convention': convention}
                        for k, (label, hib) in facts.items()}}
    meta.update(meta_extra or {})
    (folder / 'run.json').write_text(json.dumps(meta))
    return folder


def write_image_set(root: Path, name: str, methods: list[str], run_dir: Path, n_pairs: int = 3,
                    size: tuple[int, int] = (48, 64)) -> Path:
    """Source images under `root/<name>`, a user manifest beside them, fused images in `run_dir/fused`.

    Returns the manifest path.
    """
    rng = np.random.default_rng(0)
    h, w = size
    lines = [f'name = "{name}"', 'title = "t"', 'description = "d"', 'citation = "c"', 'licence = "l"',
             'homepage = ""', f'directory = "{name}"', 'pairs = [']
    for i in range(n_pairs):
        pair = f'{i + 1:02d}'
        ir = rng.integers(0, 255, (h, w), dtype=np.uint8)
        vi = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        for sub, image in (('ir', ir), ('vi', vi)):
            (root / name / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / name / sub / f'{pair}.png'), image)
        for k, method in enumerate(methods):
            out = run_dir / 'fused' / name / method
            out.mkdir(parents=True, exist_ok=True)
            fused = ir.copy()
            fused[h // 2:, w // 2:] = (k * 60) % 255  # methods differ in the lower right corner
            cv2.imwrite(str(out / f'{pair}.png'), fused)
        lines.append(f'  {{ name = "{pair}", ir = "ir/{pair}.png", vi = "vi/{pair}.png" }},')
    lines.append(']')
    manifest = root / f'{name}.toml'
    manifest.write_text('\n'.join(lines) + '\n')
    return manifest


@pytest.fixture
def make_run(tmp_path):
    counter = iter(range(1000))

    def make(values, **kwargs):
        return write_run(tmp_path / f'run{next(counter)}', values, **kwargs)
    return make


def timing_rows(methods: dict[str, str], n_pairs: int = 3, dataset: str = 'mini') -> pd.DataFrame:
    """Timing rows in the current format; `methods` maps each method to its device ('cpu' or 'cuda:0')."""
    rows = []
    for method, device in methods.items():
        for i in range(n_pairs):
            gpu = device.startswith('cuda')
            rows.append({'dataset': dataset, 'pair': f'{i + 1:02d}', 'method': method, 'seconds': 0.01 * (i + 1),
                         'device': device, 'height': 48, 'width': 64,
                         'device_name': 'NVIDIA H200' if gpu else 'Test CPU', 'threads': 2,
                         'peak_memory_bytes': 3 * 2**20 if i == 0 else None, 'params': 1234,
                         'flops': 5.5e9 if i == 0 else None})
    return pd.DataFrame(rows)


FULL_METHODS = ['avg', 'net', 'net-no-de', 'x' * 60]
FULL_FORBIDDEN = ('torch', 'methods', 'metrics')


@pytest.fixture(scope='session')
def full_report(tmp_path_factory):
    """A complete report with figures, built once in a fresh process that reports which modules it imported.

    Returns (run folder, {'forbidden': [...], 'seconds': ...}).
    """
    import subprocess
    import sys
    root = tmp_path_factory.mktemp('full')
    run_dir = root / 'run'
    rng = np.random.default_rng(3)
    values = {m: {'en': list(rng.normal(6 + k, 0.2, 3)), 'mse': list(rng.normal(10 + k, 1, 3)),
                  'odd': list(rng.normal(1, 0.1, 3))} for k, m in enumerate(FULL_METHODS)}
    values['avg']['en'][1] = float('nan')  # one failed pair
    manifest = write_image_set(root / 'data', 'mini', FULL_METHODS, run_dir)
    write_run(run_dir, values, timing=timing_rows({'avg': 'cpu', 'net': 'cuda:0'}),
              errors=[('mini', '02', 'avg', 'score', 'ValueError', 'bad <value>')],
              meta_extra={'invocations': [{'argv': ['run', '--methods', 'avg'], 'started': 'then',
                                           'data_root': str(root / 'data'), 'metrics': ['en', 'mse', 'odd']}]})
    meta = json.loads((run_dir / 'run.json').read_text())
    meta['datasets']['mini'].update(root=str(root / 'data' / 'mini'), manifest=str(manifest))
    (run_dir / 'run.json').write_text(json.dumps(meta))
    code = ('import json, sys, time; from reports import ReportOptions, write_report; t = time.perf_counter(); '
            f'write_report({str(run_dir)!r}, ReportOptions(figures=True, n_qualitative=2)); '
            'print(json.dumps({"seconds": time.perf_counter() - t, "forbidden": '
            f'[m for m in {FULL_FORBIDDEN!r} if m in sys.modules]}}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env={**__import__('os').environ, 'MPLBACKEND': 'Agg'})
    return run_dir, json.loads(out.stdout.strip().splitlines()[-1])
