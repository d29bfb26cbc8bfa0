"""The timing table: per data set, method and device, from the runner's timing rows.

Times are per image at batch size 1 (every pair timed on its own after an untimed warm-up). FLOPs and peak memory
were measured by the runner on one extra untimed call, on the pair recorded in that row; folders written before
those columns existed show them as unknown.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from reports.numbers import count
from reports.render import Cell, Table

__all__ = ['timing_summary', 'timing_table', 'timing_report_table', 'device_label']


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return pd.to_numeric(frame[name], errors='coerce')
    return pd.Series(np.nan, index=frame.index)


def device_label(device: str, name: str | None, threads: float | None) -> str:
    """'GPU (NVIDIA H200)' or 'CPU (AMD EPYC, 8 threads)'.

    Example:
        >>> device_label('cuda:0', 'NVIDIA H200', 16), device_label('cpu', 'AMD EPYC', 2), device_label('cpu', '', None)
        ('GPU cuda:0 (NVIDIA H200)', 'CPU (AMD EPYC, 2 threads)', 'CPU (threads not recorded)')
    """
    name = '' if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    if str(device).startswith('cuda'):
        return f'GPU {device}' + (f' ({name})' if name else '')
    parts = [name] if name else []
    parts.append(f'{int(threads)} thread{"s" if int(threads) != 1 else ""}' if threads is not None and
                 np.isfinite(threads) else 'threads not recorded')
    return f'CPU ({", ".join(parts)})'


def timing_summary(timing: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, method, device): pairs, median/IQR ms, images/s, ms per megapixel, sizes, facts.

    Example:
        >>> rows = pd.DataFrame({'dataset': 'd', 'pair': ['1', '2', '3'], 'method': 'm', 'seconds': [.01, .02, .04],
        ...                      'device': 'cpu', 'height': 100, 'width': 200})
        >>> row = timing_summary(rows).iloc[0]
        >>> float(row['median_ms']), float(row['iqr_ms']), float(row['images_per_s']), row['size']
        (20.0, 15.0, 50.0, '200×100')
    """
    if timing.empty:
        return pd.DataFrame()
    t = timing.copy()
    t['ms'] = _column(t, 'seconds') * 1000
    t['mp'] = _column(t, 'height') * _column(t, 'width') / 1e6
    for name in ('threads', 'peak_memory_bytes', 'params', 'flops'):
        t[name] = _column(t, name)
    if 'device_name' not in t:
        t['device_name'] = ''
    t['device_name'] = t['device_name'].fillna('').astype(str)
    rows = []
    for (dataset, method, device), g in t.groupby(['dataset', 'method', 'device'], sort=False):
        q1, med, q3 = np.nanpercentile(g['ms'], [25, 50, 75])
        sizes = g[['width', 'height']].drop_duplicates()
        if len(sizes) == 1:
            size = f'{int(sizes.iloc[0, 0])}×{int(sizes.iloc[0, 1])}'
        else:
            small = g.loc[g['mp'].idxmin()]
            large = g.loc[g['mp'].idxmax()]
            size = (f'{int(small["width"])}×{int(small["height"])} – {int(large["width"])}×{int(large["height"])} '
                    f'({len(sizes)} sizes)')
        counted = g.dropna(subset=['flops'])
        flops_row = counted.iloc[-1] if len(counted) else None
        memory = g['peak_memory_bytes'].dropna()
        threads = g['threads'].dropna()
        rows.append({
            'dataset': dataset, 'method': method, 'device': device,
            'device_label': device_label(device, g['device_name'].iloc[-1], threads.iloc[-1] if len(threads) else None),
            'gpu': str(device).startswith('cuda'), 'threads': threads.iloc[-1] if len(threads) else np.nan,
            'pairs': len(g), 'median_ms': med, 'iqr_ms': q3 - q1, 'q1_ms': q1, 'q3_ms': q3,
            'images_per_s': 1000 / med if med > 0 else np.nan,
            'ms_per_megapixel': float(np.nanmedian(g['ms'] / g['mp'])) if g['mp'].notna().any() else np.nan,
            'size': size, 'params': g['params'].dropna().iloc[-1] if g['params'].notna().any() else np.nan,
            'flops': flops_row['flops'] if flops_row is not None else np.nan,
            'flops_size': (f'{int(flops_row["width"])}×{int(flops_row["height"])}' if flops_row is not None else ''),
            'peak_memory_mb': memory.iloc[-1] / 2**20 if len(memory) else np.nan})
    return pd.DataFrame(rows)


def _num(value: float, fmt: str) -> str:
    """Thousands separated, as every other number of the report ('1,910.25', not '1910.25')."""
    return '—' if value is None or not np.isfinite(value) else format(value, ',' + fmt)


def timing_report_table(summary: pd.DataFrame, names: dict[str, str] | None = None) -> Table:
    """The timing table as a `Table` (one row per data set, method and device); `names`: {method: label}."""
    several = summary['dataset'].nunique() > 1
    names = names or {}
    rows = []
    for _, r in summary.iterrows():
        name = names.get(r['method'], r['method'])
        label = f'{name} ({r["dataset"]})' if several else name
        flops = count(r['flops'], 'FLOPs')
        if flops != '—' and r['flops_size']:
            flops += f' @ {r["flops_size"]}'
        rows.append((label, [Cell(r['device_label']), Cell(str(r['pairs'])), Cell(_num(r['median_ms'], '.2f')),
                             Cell(_num(r['iqr_ms'], '.2f')), Cell(_num(r['images_per_s'], '.1f')),
                             Cell(_num(r['ms_per_megapixel'], '.1f')), Cell(r['size']), Cell(count(r['params'])),
                             Cell(flops), Cell(_num(r['peak_memory_mb'], '.1f'))]))
    notes = ['Per image at batch size 1: every pair timed on its own after an untimed warm-up, the GPU synchronised '
             'around the call. Median and inter-quartile range (IQR) of milliseconds per image; images/s = 1000 / '
             'median; ms/MP: median of milliseconds per megapixel. GPU rows are marked "GPU"; CPU rows give the torch '
             'thread count.',
             'Parameters of the torch module; FLOPs of one call at the size shown (torch.utils.flop_counter: a '
             'multiply-add counts 2; convolutions, matrix products and attention are counted, element-wise operations '
             'are not, so rule-based methods show 0); peak memory: extra memory at the peak of one call over what was '
             'in use before it (GPU: torch.cuda.max_memory_allocated; CPU: growth of the resident set). Both measured '
             'on one extra untimed call; — where the run did not record it. Published results are not timed.']
    return Table('timing', 'Fusion time per image', 'method',
                 ['device', 'pairs', 'median ms', 'IQR ms', 'images/s', 'ms/MP', 'image size (W×H)', 'params',
                  'FLOPs', 'peak memory MB'], rows, notes, summary)


def timing_table(timing: pd.DataFrame) -> pd.DataFrame:
    """`timing_summary` indexed by (dataset, method, device)."""
    summary = timing_summary(timing)
    return summary.set_index(['dataset', 'method', 'device']) if not summary.empty else summary
