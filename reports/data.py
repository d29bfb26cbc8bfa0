"""A run folder as the report reads it: the saved CSVs and run.json, nothing recomputed.

Metric facts (label, direction, reference) come from run.json, written by the run that computed the scores, so a
report never imports the metric registry; a metric missing from run.json still renders, with an unknown direction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ['MetricInfo', 'RunData', 'load_run']


@dataclass(frozen=True)
class MetricInfo:
    """What a table needs to know about a metric. `higher_is_better` is None when the run did not record it."""
    name: str
    label: str
    higher_is_better: bool | None
    reference: str = ''

    @property
    def arrow(self) -> str:
        return {True: '↑', False: '↓'}.get(self.higher_is_better, '?')


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    frame = pd.read_csv(path, dtype={'dataset': str, 'pair': str, 'method': str, 'metric': str, 'convention': str},
                        keep_default_na=False, na_values=[''])
    return frame


def _first_seen(values: pd.Series) -> list[str]:
    return list(dict.fromkeys(values.astype(str)))


@dataclass
class RunData:
    """Everything saved in a run folder.

    Attributes:
        run_dir: the folder.
        scores: scores.csv (`value` float; 'nan' and empty fields are NaN).
        timing: timing.csv (columns of older versions are absent; the report shows them as unknown).
        errors: errors.csv.
        meta: run.json as a dict ({} when absent or unreadable).
        directions: user overrides {metric: higher_is_better}, applied over run.json's facts.
    """
    run_dir: Path
    scores: pd.DataFrame
    timing: pd.DataFrame
    errors: pd.DataFrame
    meta: dict
    directions: dict[str, bool]

    @property
    def name(self) -> str:
        return self.run_dir.resolve().name

    def groups(self) -> list[tuple[str, str]]:
        """(dataset, convention) combinations that have scores, in the order they were first written."""
        if self.scores.empty:
            return []
        keys = self.scores[['dataset', 'convention']].drop_duplicates()
        return [(d, c) for d, c in keys.itertuples(index=False)]

    def datasets(self) -> list[str]:
        seen = [d for d, _ in self.groups()]
        if not self.timing.empty:
            seen += _first_seen(self.timing['dataset'])
        return list(dict.fromkeys(seen))

    def select(self, dataset: str, convention: str) -> pd.DataFrame:
        s = self.scores
        return s[(s['dataset'] == dataset) & (s['convention'] == convention)]

    def methods(self, dataset: str, convention: str) -> list[str]:
        """Methods in the order the run wrote them (registered methods first, then published results)."""
        return _first_seen(self.select(dataset, convention)['method'])

    def all_methods(self) -> list[str]:
        """Every method of the run (scored or timed), in the order first written."""
        seen = [m for ds, conv in self.groups() for m in self.methods(ds, conv)]
        if not self.timing.empty:
            seen += _first_seen(self.timing['method'])
        return list(dict.fromkeys(seen))

    def all_metrics(self) -> list[str]:
        """Every metric scored under any convention, in the order `metrics` gives them."""
        return list(dict.fromkeys(m for ds, conv in self.groups() for m in self.metrics(ds, conv)))

    def metrics(self, dataset: str, convention: str) -> list[str]:
        """Metrics in the order of the run's invocations (its --metrics), then any others in the order written."""
        present = _first_seen(self.select(dataset, convention)['metric'])
        ordered = [m for inv in self.meta.get('invocations', []) for m in inv.get('metrics', []) or []]
        ordered = [m for m in dict.fromkeys(ordered) if m in present]
        return ordered + [m for m in present if m not in ordered]

    def pairs(self, dataset: str, convention: str | None = None) -> list[str]:
        """Pairs of a data set: those with any score (or any error), sorted naturally."""
        sel = self.scores[self.scores['dataset'] == dataset] if not self.scores.empty else self.scores
        names = set(sel['pair'].astype(str)) if not sel.empty else set()
        if not self.errors.empty:
            names |= {p for p in self.errors[self.errors['dataset'] == dataset]['pair'].astype(str) if p != '*'}
        return sorted(names, key=_natural_key)

    def n_pairs(self, dataset: str) -> int:
        """How many pairs the data set has: its manifest's count when run.json has it, else the pairs seen."""
        declared = self.meta.get('datasets', {}).get(dataset, {}).get('pairs')
        return max(int(declared or 0), len(self.pairs(dataset)))

    def metric_info(self, metric: str, convention: str) -> MetricInfo:
        facts = self.meta.get('metrics', {}).get(f'{convention}/{metric}')
        if facts is None:  # the same metric under another convention has the same direction and label
            facts = next((f for f in self.meta.get('metrics', {}).values() if f.get('metric') == metric), None)
            facts = dict(facts or {}, reference='')
        facts = facts or {}
        higher = self.directions.get(metric, facts.get('higher_is_better'))
        return MetricInfo(metric, facts.get('label') or metric, None if higher is None else bool(higher),
                          facts.get('reference', ''))

    def convention_description(self, convention: str) -> str:
        return self.meta.get('conventions', {}).get(convention, '')

    def values(self, dataset: str, convention: str, metric: str) -> pd.DataFrame:
        """Pairs x methods matrix of one metric (NaN where a method has no finite value for a pair)."""
        sel = self.select(dataset, convention)
        sel = sel[sel['metric'] == metric]
        wide = sel.pivot_table(index='pair', columns='method', values='value', aggfunc='last', dropna=False)
        wide = wide.reindex(index=self.pairs(dataset), columns=self.methods(dataset, convention))
        return wide.replace([np.inf, -np.inf], np.nan).astype(float)


def _natural_key(name: str) -> tuple:
    """'2' < '10'; names with digits sort by their numbers."""
    import re
    return tuple(int(t) if t.isdigit() else t for t in re.split(r'(\d+)', str(name)))


def load_run(run_dir: str | Path, directions: dict[str, bool] | None = None) -> RunData:
    """Reads a run folder (scores.csv, timing.csv, errors.csv, run.json).

    Raises:
        FileNotFoundError: when `run_dir` has no scores.csv.
    """
    run_dir = Path(run_dir)
    if not (run_dir / 'scores.csv').is_file():
        raise FileNotFoundError(f'{run_dir} is not a run folder (no scores.csv).')
    scores = _read_csv(run_dir / 'scores.csv')
    if not scores.empty:
        scores['value'] = pd.to_numeric(scores['value'], errors='coerce')
    meta = {}
    if (run_dir / 'run.json').is_file():
        try:
            meta = json.loads((run_dir / 'run.json').read_text())
        except json.JSONDecodeError:
            meta = {}
    return RunData(run_dir, scores, _read_csv(run_dir / 'timing.csv'), _read_csv(run_dir / 'errors.csv'), meta,
                   dict(directions or {}))
