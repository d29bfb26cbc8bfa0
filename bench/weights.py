"""`python -m bench weights list|fetch|verify`: the official weight files of the registered methods.

Every file a method loads is listed in `methods/weights.toml` with its public URL and its sha256 (or, for files no
copy of which was at hand when the manifest was written, its git blob id). `fetch` downloads what is missing into
the weights directory (resumable, progress bar, checked before it is put in place); `verify` checks what is there.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.download import ChecksumError, DownloadError, FileToFetch, fetch_files

__all__ = ['WeightFile', 'add_parser', 'fetch_weights', 'files_for', 'verify_weights']

EXIT_OK, EXIT_FAILURES = 0, 1
MIRROR_ENV = 'BENCH_WEIGHTS_MIRROR'


@dataclass(frozen=True)
class WeightFile:
    """One manifest entry: `file` under the weights directory, how to check it and where it comes from."""
    file: str
    sha256: str = ''
    git_blob: str = ''
    size: int = 0
    url: str = ''
    member: str = ''
    note: str = ''
    download: str = ''  # 'user': no download a program can make; the user brings the file (see `note`)

    def source(self, mirror: str | None = None) -> tuple[str, str]:
        """(url, zip member or '') to download from; a mirror holds every file unzipped at `<mirror>/<file>`."""
        if mirror:
            return f'{mirror.rstrip("/")}/{self.file}', ''
        return self.url, self.member


def manifest_files(manifest: dict | None = None) -> dict[str, WeightFile]:
    """{file: WeightFile} of the project manifest (or of `manifest`, {file: entry dict}, for tests)."""
    if manifest is None:
        from methods._weights import weights_manifest
        manifest = weights_manifest()
    keys = WeightFile.__dataclass_fields__
    return {f: WeightFile(**{k: v for k, v in e.items() if k in keys}) for f, e in manifest.items()}


def files_for(names: list[str], manifest: dict | None = None) -> dict[str, list[WeightFile]]:
    """{method: its weight files}, for registered method names (globs, 'all' = every method with weights).

    Raises:
        KeyError: an unknown method name (with close matches).
    """
    import methods
    entries = manifest_files(manifest)
    wanted: list[str] = []
    for name in names:
        hits = methods.list_methods('*' if name.lower() == 'all' else name.lower())
        if not hits:
            methods.get_method_spec(name)  # raises KeyError with suggestions
        wanted += [h for h in hits if h not in wanted]
    out = {}
    for name in wanted:
        spec = methods.get_method_spec(name)
        if spec.weights:
            out[name] = [entries.get(w.file) or WeightFile(w.file, w.sha256, w.git_blob, url=w.url,
                                                           download='user' if w.user_supplied else '')
                         for w in spec.weights]
    return out


def _digest(path: Path, git_blob: bool) -> str:
    digest = hashlib.sha1(b'blob %d\0' % path.stat().st_size) if git_blob else hashlib.sha256()
    with open(path, 'rb') as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def check(entry: WeightFile, root: Path) -> str | None:
    """None when `root/entry.file` is the official file, else what is wrong with it."""
    path = root / entry.file
    if not path.is_file():
        return 'missing'
    if entry.sha256:
        actual = _digest(path, git_blob=False)
        return None if actual == entry.sha256 else f'sha256 {actual}, expected {entry.sha256}'
    actual = _digest(path, git_blob=True)
    return None if actual == entry.git_blob else f'git blob id {actual}, expected {entry.git_blob}'


def _fetch_by_git_blob(entry: WeightFile, root: Path, url: str, progress: bool) -> None:
    """Downloads a file known only by its git blob id: resumable `.part`, checked before the rename."""
    from tqdm import tqdm

    from bench.download import _download, _part_path, _Progress
    dest = root / entry.file
    part = _part_path(dest)
    with tqdm(total=0, unit='B', unit_scale=True, unit_divisor=1024, desc='ivif-bench weights',
              disable=None if progress else True) as bar:
        tracker = _Progress(bar)
        tracker.start(dest.name)
        _download(url, part, dest, tracker, 30.0, 2)
    actual = _digest(part, git_blob=True)
    if actual != entry.git_blob:
        part.unlink()
        raise DownloadError(url, dest, f'git blob id {actual}, expected {entry.git_blob}: not the official file')
    os.replace(part, dest)


def fetch_weights(entries: list[WeightFile], root: Path, *, mirror: str | None = None,
                  progress: bool = True) -> list[Path]:
    """Makes every entry present and verified under `root`; files already right are not downloaded.

    Raises:
        DownloadError: an entry has no public URL, or the download failed (a re-run resumes it).
        ChecksumError: the downloaded bytes are not the official file.
    """
    root.mkdir(parents=True, exist_ok=True)
    todo = [e for e in entries if check(e, root) is not None]
    for e in todo:
        if not e.source(mirror)[0] or (e.download == 'user' and not mirror):
            raise DownloadError(e.url or '(no public URL)', root / e.file,
                                f'a user-supplied file: download it yourself ({e.note or "no public download"}) and '
                                f'put it at {root / e.file}')
    by_sha = []
    for e in todo:
        url, member = e.source(mirror)
        if e.sha256:
            by_sha.append(FileToFetch(url, root / e.file, e.sha256, member or None))
        else:
            _fetch_by_git_blob(e, root, url, progress)
    fetch_files(by_sha, progress=progress)
    return [root / e.file for e in entries]


def verify_weights(entries: list[WeightFile], root: Path) -> dict[str, str]:
    """{file: problem} for every entry that is missing or not the official file under `root`."""
    return {e.file: problem for e in entries if (problem := check(e, root)) is not None}


# --- command line ------------------------------------------------------------------------------------------------

def _root(option: str | None) -> Path:
    from methods._weights import default_weights_dir
    return Path(option).expanduser() if option else default_weights_dir()


def cmd_weights(args: argparse.Namespace) -> int:
    root = _root(args.weights_dir)
    names = [n.strip() for item in (args.names or ['all']) for n in item.split(',') if n.strip()]
    per_method = files_for(names)
    if not per_method:
        print(f'No weight files to {args.action}: {", ".join(names)} load(s) none.')
        return EXIT_OK
    if args.action == 'list':
        for name, entries in per_method.items():
            for e in entries:
                problem = check(e, root)
                state = 'ok' if problem is None else problem
                if problem is not None and e.download == 'user':
                    state += f'; user-supplied: {e.note or e.url}'
                print(f'{name:20s} {e.file}  [{state}]')
        print(f'weights directory: {root}')
        return EXIT_OK
    if args.action == 'fetch':
        status = EXIT_OK
        for name, entries in per_method.items():
            try:
                fetch_weights(entries, root, mirror=args.mirror or os.environ.get(MIRROR_ENV),
                              progress=not args.no_progress)
                print(f'{name}: {len(entries)} file(s) present and verified in {root}')
            except (DownloadError, ChecksumError) as err:
                print(f'error: {name}: {err}', file=sys.stderr)
                status = EXIT_FAILURES
        return status
    status = EXIT_OK
    for name, entries in per_method.items():
        problems = verify_weights(entries, root)
        for file, problem in problems.items():
            print(f'{name}: {file}: {problem}')
        print(f'{name}: {len(entries) - len(problems)}/{len(entries)} file(s) OK in {root}')
        status = EXIT_FAILURES if problems else status
    return status


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Adds `weights {list,fetch,verify} [NAME ...]` to the `python -m bench` sub-commands."""
    p = subparsers.add_parser('weights', help='list, fetch or verify the official weight files of methods',
                              description='NAMEs are registered methods (globs, comma/space separated; default '
                                          "'all'). Files go to --weights-dir, else $BENCH_WEIGHTS_DIR, else the user "
                                          'cache; each is checked against the sha256 (or git blob id) in '
                                          'methods/weights.toml.')
    p.add_argument('action', choices=['list', 'fetch', 'verify'])
    p.add_argument('names', nargs='*', metavar='NAME')
    p.add_argument('--weights-dir', help='folder holding weight files (default $BENCH_WEIGHTS_DIR or the user cache)')
    p.add_argument('--mirror', help=f'base URL holding every file at <mirror>/<file> (${MIRROR_ENV})')
    p.add_argument('--no-progress', action='store_true')
    p.set_defaults(func=cmd_weights)
    return p
