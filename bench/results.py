"""Results on disk: long, tidy CSV tables appended as work finishes, plus run.json.

Each block of rows goes to the file in one `write` on an append-mode descriptor, so an interrupted run leaves at
worst one partial last line, which `open` trims. Re-opening a run folder reads what is done, so work resumes.
Score and timing rows carry the provenance key of what produced them (`bench.provenance`); rows whose key no longer
matches are replaced (`RunStore.discard`), never duplicated.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

SCORE_COLUMNS = ('dataset', 'pair', 'method', 'metric', 'convention', 'value', 'key')
# Timing rows: seconds of one fusion call, plus the facts of that call (device_name, torch threads, peak extra
# memory in bytes, parameter count; FLOPs only on the row whose call was counted), the fused image's provenance
# key, and where the call ran (host name; the physical GPU's index, empty on the CPU): on a cluster the rows of one
# method come from several machines. Folders of earlier versions lack trailing columns; opening one pads its rows
# with empty values (an empty key is unknown provenance: that work is redone).
TIMING_COLUMNS = ('dataset', 'pair', 'method', 'seconds', 'device', 'height', 'width',
                  'device_name', 'threads', 'peak_memory_bytes', 'params', 'flops', 'key', 'node', 'gpu')
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


def _rewrite(path: Path, columns: tuple[str, ...], rows) -> None:
    """Writes a whole table (header + rows, each padded to the header's width) atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(columns)
    writer.writerows(list(row) + [''] * (len(columns) - len(row)) for row in rows)
    write_atomic(path, buf.getvalue())


def _pad_columns(path: Path, columns: tuple[str, ...]) -> None:
    """Rewrites a table written by an earlier version (fewer trailing columns) with the current header."""
    with open(path, newline='', encoding='utf-8') as fh:
        rows = list(csv.reader(fh))[1:]
    _rewrite(path, columns, rows)


def error_message(error: BaseException) -> str:
    """An exception's message on one line, as errors.csv holds it."""
    return ' '.join(str(error).split()) or repr(error)


class RunFolderError(PermissionError):
    """The run folder cannot be created or written."""


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
        try:
            self._open(fresh)
        except PermissionError as err:
            raise RunFolderError(f'The run folder {self.out} is not writable ({err.strerror or err}). Choose another '
                                 f'--out (`bench report RUN --out DIR` renders a read-only run elsewhere).') from None
        # (dataset, pair, method, convention) -> {metric: key}
        self.scored: dict[tuple[str, str, str, str], dict[str, str]] = {}
        for r in read_table(self.out / 'scores.csv'):
            self.scored.setdefault((r['dataset'], r['pair'], r['method'], r['convention']), {})[r['metric']] = r['key']
        self.timed = {tuple(r[k] for k in TIMING_COLUMNS[:3]): r['key'] for r in read_table(self.out / 'timing.csv')}
        self.n_errors = 0

    def _open(self, fresh: bool) -> None:
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
                if len(header) < len(columns) and header == columns[:len(header)] and name != 'errors.csv':
                    _pad_columns(path, columns)
                elif header != columns:
                    raise ValueError(f'{path} has columns {list(header)}, expected {list(columns)}: not a run '
                                     f'folder of this version. Use another --out or --fresh.')

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

    def add_scores(self, dataset: str, pair: str, method: str, convention: str, values: dict[str, float],
                   key: str = '') -> None:
        rows = [(dataset, pair, method, metric, convention, repr(float(v)), key) for metric, v in values.items()]
        self._append('scores.csv', rows)
        self.scored.setdefault((dataset, pair, method, convention), {}).update((m, key) for m in values)

    def add_timing(self, dataset: str, pair: str, method: str, seconds: float, device: str, height: int,
                   width: int, *, device_name: str = '', threads: int | None = None,
                   peak_memory_bytes: int | None = None, params: int | None = None, flops: int | None = None,
                   key: str = '', node: str = '', gpu: str = '') -> None:
        """One timed fusion call; unknown facts are written as empty fields."""
        extra = tuple('' if v is None else v
                      for v in (device_name, threads, peak_memory_bytes, params, flops, key, node, gpu))
        self._append('timing.csv', [(dataset, pair, method, repr(seconds), device, height, width) + extra])
        self.timed[(dataset, pair, method)] = key

    def discard(self, fused: set[tuple[str, str, str]] = frozenset(),
                scores: set[tuple[str, str, str, str, str]] = frozenset()) -> None:
        """Removes stale work: for each (dataset, pair, method) in `fused`, its fused image, timing rows and every
        score of it; and the score rows in `scores` (dataset, pair, method, metric, convention). The tables are
        rewritten atomically, once each."""
        if not fused and not scores:
            return
        for ds, pair, method in fused:
            self.fused_path(ds, method, pair).unlink(missing_ok=True)
        for name, columns, index, drop in (('timing.csv', TIMING_COLUMNS, 3, lambda k: k in fused),
                                           ('scores.csv', SCORE_COLUMNS, 5, lambda k: k in scores or k[:3] in fused)):
            rows = read_table(self.out / name)
            keep = [r for r in rows if not drop(tuple(r[c] for c in columns[:index]))]
            if len(keep) != len(rows):
                _rewrite(self.out / name, columns, ([r[c] for c in columns] for r in keep))
        self.timed = {k: v for k, v in self.timed.items() if k not in fused}
        for ds, pair, method, metric, convention in scores:
            self.scored.get((ds, pair, method, convention), {}).pop(metric, None)
        self.scored = {k: v for k, v in self.scored.items() if v and k[:3] not in fused}

    def add_error(self, dataset: str, pair: str, method: str, stage: str, error: BaseException) -> None:
        self.add_failure(dataset, pair, method, stage, type(error).__name__, error_message(error))

    def add_failure(self, dataset: str, pair: str, method: str, stage: str, error: str, message: str) -> None:
        """An error row from an exception's type name and `error_message` (as a cluster worker reports them)."""
        self._append('errors.csv', [(dataset, pair, method, stage, error, message)])
        self.n_errors += 1

    def is_scored(self, dataset: str, pair: str, method: str, metric: str, convention: str) -> bool:
        return metric in self.scored.get((dataset, pair, method, convention), {})

    def is_fused(self, dataset: str, pair: str, method: str) -> bool:
        return (dataset, pair, method) in self.timed and self.fused_path(dataset, method, pair).is_file()

    def fused_key(self, dataset: str, pair: str, method: str) -> str | None:
        """The stored key of a fused image ('' when recorded without one), None when there is none."""
        return self.timed.get((dataset, pair, method))

    def score_keys(self, dataset: str, pair: str, method: str, convention: str) -> dict[str, str]:
        """{metric: stored key} of one triple's scores under `convention`."""
        return dict(self.scored.get((dataset, pair, method, convention), {}))

    def read_meta(self) -> dict:
        path = self.out / 'run.json'
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            return {}

    def write_meta(self, meta: dict) -> None:
        write_atomic(self.out / 'run.json', json.dumps(meta, indent=2, sort_keys=True, default=str) + '\n')
