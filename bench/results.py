"""Results on disk: long, tidy CSV tables appended as work finishes, plus run.json.

Each block of rows goes to the file in one `write` on an append-mode descriptor, so an interrupted run leaves at
worst one partial last line, which `open` trims. Re-opening a run folder reads what is done, so work resumes.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

SCORE_COLUMNS = ('dataset', 'pair', 'method', 'metric', 'convention', 'value')
# Timing rows: seconds of one fusion call, plus the facts of that call (device_name, torch threads, peak extra
# memory in bytes, parameter count; FLOPs only on the row whose call was counted). Runs of the first version have
# only the first seven columns; opening such a folder pads its rows with empty values.
TIMING_COLUMNS = ('dataset', 'pair', 'method', 'seconds', 'device', 'height', 'width',
                  'device_name', 'threads', 'peak_memory_bytes', 'params', 'flops')
ERROR_COLUMNS = ('dataset', 'pair', 'method', 'stage', 'error', 'message')
TABLES = {'scores.csv': SCORE_COLUMNS, 'timing.csv': TIMING_COLUMNS, 'errors.csv': ERROR_COLUMNS}


def write_atomic(path: Path, text: str) -> None:
    """Writes a whole file via a temporary file and a rename: readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix='.' + path.name, suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8', newline='') as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _trim_partial_line(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b'\n'):
        with open(path, 'r+b') as fh:
            fh.truncate(data.rfind(b'\n') + 1)


def _pad_columns(path: Path, columns: tuple[str, ...]) -> None:
    """Rewrites a table written by an earlier version (fewer trailing columns) with the current header."""
    with open(path, newline='', encoding='utf-8') as fh:
        rows = list(csv.reader(fh))[1:]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(columns)
    writer.writerows(row + [''] * (len(columns) - len(row)) for row in rows)
    write_atomic(path, buf.getvalue())


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of one results CSV as dicts (empty if the file does not exist)."""
    if not path.is_file():
        return []
    with open(path, newline='', encoding='utf-8') as fh:
        return list(csv.DictReader(fh))


class RunStore:
    """The run folder: scores.csv, timing.csv, errors.csv, run.json and fused/<dataset>/<method>/<pair>.png.

    errors.csv holds the failures of the latest invocation only: failed work is retried when a run is resumed.
    """

    def __init__(self, out: Path, fresh: bool = False) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        if fresh:
            for name in TABLES:
                (self.out / name).unlink(missing_ok=True)
        for name, columns in TABLES.items():
            path = self.out / name
            if name == 'errors.csv' or not path.is_file() or path.stat().st_size == 0:
                write_atomic(path, ','.join(columns) + '\n')
            else:
                _trim_partial_line(path)
                with open(path, newline='', encoding='utf-8') as fh:
                    header = next(csv.reader(fh), None)
                header = tuple(header or ())
                if len(header) < len(columns) and header == columns[:len(header)] and name == 'timing.csv':
                    _pad_columns(path, columns)
                elif header != columns:
                    raise ValueError(f'{path} has columns {list(header)}, expected {list(columns)}: not a run '
                                     f'folder of this version. Use another --out or --fresh.')
        self.scored = {tuple(r[k] for k in SCORE_COLUMNS[:5]) for r in read_table(self.out / 'scores.csv')}
        self.timed = {tuple(r[k] for k in TIMING_COLUMNS[:3]) for r in read_table(self.out / 'timing.csv')}
        self.n_errors = 0

    def fused_path(self, dataset: str, method: str, pair: str) -> Path:
        return self.out / 'fused' / dataset / method / f'{pair}.png'

    def _append(self, name: str, rows: list[tuple]) -> None:
        if not rows:
            return
        buf = io.StringIO()
        csv.writer(buf, lineterminator='\n').writerows(rows)
        fd = os.open(self.out / name, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, buf.getvalue().encode('utf-8'))
        finally:
            os.close(fd)

    def add_scores(self, dataset: str, pair: str, method: str, convention: str, values: dict[str, float]) -> None:
        rows = [(dataset, pair, method, metric, convention, repr(float(v))) for metric, v in values.items()]
        self._append('scores.csv', rows)
        self.scored.update(r[:5] for r in rows)

    def add_timing(self, dataset: str, pair: str, method: str, seconds: float, device: str, height: int,
                   width: int, *, device_name: str = '', threads: int | None = None,
                   peak_memory_bytes: int | None = None, params: int | None = None, flops: int | None = None) -> None:
        """One timed fusion call; unknown facts are written as empty fields."""
        extra = tuple('' if v is None else v for v in (device_name, threads, peak_memory_bytes, params, flops))
        self._append('timing.csv', [(dataset, pair, method, repr(seconds), device, height, width) + extra])
        self.timed.add((dataset, pair, method))

    def add_error(self, dataset: str, pair: str, method: str, stage: str, error: BaseException) -> None:
        message = ' '.join(str(error).split()) or repr(error)
        self._append('errors.csv', [(dataset, pair, method, stage, type(error).__name__, message)])
        self.n_errors += 1

    def is_scored(self, dataset: str, pair: str, method: str, metric: str, convention: str) -> bool:
        return (dataset, pair, method, metric, convention) in self.scored

    def is_fused(self, dataset: str, pair: str, method: str) -> bool:
        return (dataset, pair, method) in self.timed and self.fused_path(dataset, method, pair).is_file()

    def read_meta(self) -> dict:
        path = self.out / 'run.json'
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            return {}

    def write_meta(self, meta: dict) -> None:
        write_atomic(self.out / 'run.json', json.dumps(meta, indent=2, sort_keys=True, default=str) + '\n')
