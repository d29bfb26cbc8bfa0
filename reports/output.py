"""Where a report is written: `<run>/report/` by default, or a folder of the user's choice (`--out`) so that a
read-only run folder (a colleague's, an archive, a mounted disk) can still be rendered."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

__all__ = ['ReportNotWritable', 'prepare_output', 'not_writable', 'is_denied', 'REPORT_MARK']

REPORT_MARK = 'IVIF benchmark report'  # in the <title> of every index.html this package writes
_OURS = ('index.html', 'means.csv', 'tables', 'figures')
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


class ReportNotWritable(PermissionError):
    """The report's folder cannot be written. The message names the folder and the way out (--out), never a
    temporary file."""


def not_writable(folder: Path, run_dir: Path, err: OSError | None = None) -> ReportNotWritable:
    reason = f' ({err.strerror.lower()})' if err is not None and err.strerror else ''
    return ReportNotWritable(f'Cannot write the report: {folder} is not writable{reason}. Write it into another '
                             f'folder with --out DIR: python -m bench report {run_dir} --out DIR')


def is_denied(err: OSError) -> bool:
    return err.errno in _DENIED


def _is_report(folder: Path) -> bool:
    """True for a folder that holds nothing or only what an earlier report wrote."""
    entries = {p.name for p in folder.iterdir()}
    if not entries:
        return True
    index = folder / 'index.html'
    try:
        ours = index.is_file() and REPORT_MARK in index.read_text(encoding='utf-8', errors='replace')[:2000]
    except OSError:
        ours = False
    return ours and entries <= set(_OURS)


def prepare_output(run_dir: Path, out: str | Path | None = None) -> Path:
    """The report folder, created, writable and without an earlier report's tables and figures.

    Raises:
        ReportNotWritable: the folder cannot be created or written (a read-only run folder without `out`).
        ValueError: `out` holds files that are not an earlier report (they are never deleted).
    """
    folder = Path(out) if out is not None else run_dir / 'report'
    if out is not None and folder.exists():
        if not folder.is_dir():
            raise ValueError(f'Expected --out to be a folder, but {folder} is a file.')
        if folder.resolve() == run_dir.resolve() or not _is_report(folder):
            raise ValueError(f'Expected --out to be a new or empty folder or an earlier report, but {folder} holds '
                             f'other files (nothing was changed there).')
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        if is_denied(err):
            raise not_writable(folder, run_dir, err) from None
        raise
    # os.access asks the kernel with this process's rights: false for a read-only mount or a folder the user may
    # not write, so nothing is half-written before the first file fails.
    if not os.access(folder, os.W_OK | os.X_OK):
        code = errno.EROFS if os.statvfs(folder).f_flag & os.ST_RDONLY else errno.EACCES
        raise not_writable(folder, run_dir, PermissionError(code, os.strerror(code)))
    for sub in ('tables', 'figures'):  # outputs of an earlier build: a re-render must not leave stale files
        try:
            shutil.rmtree(folder / sub)
        except FileNotFoundError:
            pass
        except OSError as err:
            if is_denied(err):
                raise not_writable(folder / sub, run_dir, err) from None
            raise
    return folder
