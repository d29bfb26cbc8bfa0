"""`write_report(run_dir)`: report/index.html with the mean table per data set and convention, timings and errors."""
from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from reports.tables import best_per_column, mean_table, timing_table

_STYLE = ('body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}'
          'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}'
          'td.best{font-weight:bold;background:#eaf6ea}caption{text-align:left;font-weight:bold;padding:4px 0}')


def _read(run_dir: Path, name: str) -> pd.DataFrame:
    path = run_dir / name
    return pd.read_csv(path, dtype={'pair': str, 'dataset': str}) if path.is_file() else pd.DataFrame()


def _metric_facts(meta: dict, convention: str) -> tuple[dict[str, bool], dict[str, str]]:
    facts = [f for f in meta.get('metrics', {}).values() if f.get('convention') == convention]
    return ({f['metric']: f['higher_is_better'] for f in facts}, {f['metric']: f['label'] for f in facts})


def _table_html(table: pd.DataFrame, caption: str, best: dict[str, str], labels: dict[str, str],
                higher: dict[str, bool]) -> str:
    head = ''.join(f'<th>{html.escape(labels.get(c, c))} {"↑" if higher.get(c, True) else "↓"}</th>'
                   for c in table.columns)
    rows = []
    for method, row in table.iterrows():
        cells = ''.join(f'<td class="{"best" if best.get(c) == method else ""}">'
                        f'{"" if pd.isna(v) else f"{v:.4f}"}</td>' for c, v in row.items())
        rows.append(f'<tr><th>{html.escape(str(method))}</th>{cells}</tr>')
    return (f'<table><caption>{html.escape(caption)}</caption><tr><th>method</th>{head}</tr>'
            f'{"".join(rows)}</table>')


def write_report(run_dir: str | Path) -> Path:
    """Writes `<run_dir>/report/index.html` (and `means.csv`) from the run's CSVs; returns the HTML path."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / 'run.json').read_text()) if (run_dir / 'run.json').is_file() else {}
    scores, timing, errors = _read(run_dir, 'scores.csv'), _read(run_dir, 'timing.csv'), _read(run_dir, 'errors.csv')
    parts = [f'<h1>IVIF benchmark: {html.escape(run_dir.name)}</h1>',
             '<p>Means over pairs; ↑ higher is better, ↓ lower is better; best per column in bold.</p>']
    means = []
    if not scores.empty:
        for (dataset, convention), _ in scores.groupby(['dataset', 'convention']):
            higher, labels = _metric_facts(meta, convention)
            table = mean_table(scores, dataset, convention)
            parts.append(_table_html(table, f'{dataset} (convention {convention})',
                                     best_per_column(table, higher), labels, higher))
            means.append(table.reset_index().assign(dataset=dataset, convention=convention))
    if not timing.empty:
        parts.append('<h2>Fusion time per pair</h2>' + timing_table(timing).to_html(float_format='{:.4f}'.format))
    if not errors.empty:
        parts.append(f'<h2>Errors ({len(errors)})</h2>' + errors.to_html(index=False))
    out = run_dir / 'report'
    out.mkdir(exist_ok=True)
    if means:
        pd.concat(means).to_csv(out / 'means.csv', index=False)
    page = out / 'index.html'
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>IVIF benchmark</title>'
                    f'<style>{_STYLE}</style></head><body>{"".join(parts)}</body></html>\n', encoding='utf-8')
    return page
