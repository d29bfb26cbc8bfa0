"""Metric groups: how a table with many metrics is split into tables a page (and a LaTeX column) can hold.

With `--metrics all` a run has 31 metrics; one table of them is about twice as wide as a 1400 px page and its LaTeX
has 32 columns. Split, the DFECF paper's seven come first (the comparison most readers look for), then the rest by
the family the fusion literature sorts them into (Liu et al., TPAMI 2012, as VIFB and MEFB group them), families
packed side by side while they fit, so a table holds at most `width` metrics.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ['MetricGroup', 'PAPER', 'FAMILIES', 'metric_groups', 'PRESETS', 'TABLE_WIDTH']

TABLE_WIDTH = 8  # metric columns per table: 8 columns of 4-decimal means fit a 1400 px page with room for labels

# The DFECF paper's Table 3, in its order.
PAPER = ('sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf')

# (key, title, members). A metric may sit in the paper's group and in its family: whichever comes first takes it.
FAMILIES = (
    ('paper', "the DFECF paper's seven", PAPER),
    ('information', 'information theory', ('mi', 'en', 'ce', 'nmi', 'qncie', 'te', 'fmi_pixel', 'fmi_dct',
                                           'fmi_edge', 'psnr')),
    ('structural', 'structural similarity', ('ssim', 'ssim255', 'ms_ssim', 'mef_ssim', 'qc', 'qw', 'qy')),
    ('feature', 'image features', ('sd', 'ag', 'sf', 'ei', 'qabf', 'nabf', 'qp')),
    ('perception', 'human perception', ('vif', 'viff', 'qcb', 'qcv')),
    ('error', 'correlation and error', ('cc', 'scd', 'mse', 'rmse')),
)

# Names `--metrics` accepts besides metric names: each family by its key.
PRESETS = {key: list(members) for key, _, members in FAMILIES}


@dataclass(frozen=True)
class MetricGroup:
    """Metrics shown in one table. `key` goes into file names ('' when the metrics are not split)."""
    key: str
    title: str
    metrics: tuple[str, ...]


def _chunks(names: list[str], width: int) -> list[list[str]]:
    """`names` in parts of at most `width`, as even as possible (10 by 8 -> 5 + 5, not 8 + 2)."""
    parts = -(-len(names) // width)
    size = -(-len(names) // parts)
    return [names[i:i + size] for i in range(0, len(names), size)]


def metric_groups(metrics: list[str], width: int = TABLE_WIDTH) -> list[MetricGroup]:
    """Splits `metrics` into tables of at most `width` metrics; one group, in the given order, when they fit.

    Example:
        >>> [g.metrics for g in metric_groups(['en', 'mse', 'qabf'])]
        [('en', 'mse', 'qabf')]
        >>> groups = metric_groups(['ag', 'cc', 'ce', 'en', 'mi', 'mse', 'qabf', 'sd', 'sf', 'ssim', 'vif', 'xyz'])
        >>> [(g.key, g.metrics) for g in groups]  # doctest: +NORMALIZE_WHITESPACE
        [('paper', ('sd', 'mi', 'vif', 'ag', 'en', 'sf', 'qabf')),
         ('information+structural+error+other', ('ce', 'ssim', 'cc', 'mse', 'xyz'))]
    """
    if width < 1:
        raise ValueError(f'Expected a table width of at least 1 metric, but got {width}.')
    if len(metrics) <= width:
        return [MetricGroup('', '', tuple(metrics))]
    left = list(metrics)
    families = []
    for key, title, members in FAMILIES:
        # The paper's group keeps the paper's order; the other families keep the run's order.
        chosen = [m for m in members if m in left] if key == 'paper' else [m for m in left if m in members]
        left = [m for m in left if m not in chosen]
        families.append((key, title, chosen))
    families.append(('other', 'other metrics', left))
    groups: list[MetricGroup] = []
    pending: list[tuple[str, str, list[str]]] = []  # families waiting to share a table

    def flush() -> None:
        if pending:
            groups.append(MetricGroup('+'.join(k for k, _, _ in pending), '; '.join(t for _, t, _ in pending),
                                      tuple(m for _, _, names in pending for m in names)))
            pending.clear()

    for key, title, names in families:
        if not names:
            continue
        if key == 'paper':  # always a table of its own
            groups.append(MetricGroup(key, title, tuple(names)))
        elif len(names) > width:
            flush()
            parts = _chunks(names, width)
            groups += [MetricGroup(f'{key}-{i}', f'{title} ({i} of {len(parts)})', tuple(p))
                       for i, p in enumerate(parts, 1)]
        else:
            if sum(len(n) for _, _, n in pending) + len(names) > width:
                flush()
            pending.append((key, title, names))
    flush()
    return groups
