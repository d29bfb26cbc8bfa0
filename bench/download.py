"""Resumable, checksum-verified downloads of benchmark data.

Files are streamed over HTTP(S) into ``<dest>.part`` (resumed with a ``Range``
request when a partial file is already there), verified against a known
sha256 and only then renamed into place, so a ``dest`` that exists is always
complete. Files shipped inside zip archives are fetched by downloading each
archive once and extracting the wanted members.

Example (needs a network)::

    fetch_files([FileToFetch(url, Path("data/tno42/ir/01.png"), sha)])
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Sequence

from tqdm import tqdm

__all__ = ["ChecksumError", "DownloadError", "FileToFetch", "fetch_files", "sha256_file"]

USER_AGENT = "ivif-bench"
CHUNK_SIZE = 1 << 20
_BACKOFF_S = 0.5  # first retry delay; doubles per attempt (tests set it to 0)
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class DownloadError(RuntimeError):
    """A file could not be downloaded or extracted.

    Attributes:
        url: The URL that was requested (the archive URL for archive members).
        dest: The destination file that could not be produced.
        reason: Human-readable cause.
    """

    def __init__(self, url: str, dest: Path, reason: str) -> None:
        super().__init__(f"cannot fetch {url} -> {dest}: {reason}")
        self.url = url
        self.dest = dest
        self.reason = reason


class ChecksumError(ValueError):
    """Downloaded or extracted content does not match its expected sha256.

    Attributes:
        path: The destination file whose content was wrong.
        expected: Expected sha256 hex digest.
        actual: sha256 hex digest of what was received.
    """

    def __init__(self, path: Path, expected: str, actual: str, url: str | None = None) -> None:
        source = f" (from {url})" if url else ""
        super().__init__(f"sha256 mismatch for {path}{source}: expected {expected}, got {actual}")
        self.path = path
        self.expected = expected
        self.actual = actual


class _TransientError(Exception):
    """A network failure worth retrying; ``str()`` is the reason shown to users."""


@dataclass(frozen=True)
class FileToFetch:
    """One file to download.

    Attributes:
        url: http(s) URL of the file, or of a zip archive when ``member`` is set.
        dest: Final path of the file.
        sha256: Expected sha256 hex digest of the file (not of the archive).
        member: When set, ``url`` is a zip archive and the file is the member whose
            base name equals ``member``. A value containing ``/`` matches members
            whose path ends with those components, to disambiguate equal base names.
    """

    url: str
    dest: Path
    sha256: str
    member: str | None = None

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise through object.__setattr__.
        object.__setattr__(self, "dest", Path(self.dest))
        object.__setattr__(self, "sha256", self.sha256.strip().lower())
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {self.url!r}")
        if not _SHA256_RE.fullmatch(self.sha256):
            raise ValueError(f"invalid sha256 for {self.dest}: {self.sha256!r}")
        if self.member is not None and not self.member.strip("/"):
            raise ValueError(f"empty archive member name for {self.dest}")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> str:
    """Returns the sha256 hex digest of a file, read in chunks.

    Args:
        path: File to hash.
        chunk_size: Bytes read per call.

    Returns:
        Lower-case hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_files(
    files: Sequence[FileToFetch],
    *,
    progress: bool = True,
    timeout: float = 30.0,
    retries: int = 2,
) -> list[Path]:
    """Downloads files that are missing or wrong, verifying each sha256.

    Files whose ``dest`` already has the right sha256 are skipped without any
    network access. Archive URLs are downloaded once per call into
    ``<first dest parent>/.downloads/`` and deleted after all members needed
    from them were extracted.

    Args:
        files: Files to make present.
        progress: Show one tqdm bar (on stderr) over all downloaded bytes.
        timeout: Socket timeout in seconds for connecting and for each read.
        retries: Extra attempts after a network failure; each attempt resumes.

    Returns:
        The ``dest`` of every entry of ``files``, in the same order.

    Raises:
        DownloadError: A download failed after all retries (its ``.part`` is
            kept so a re-run resumes), or an archive member is missing,
            ambiguous or the archive is corrupt.
        ChecksumError: A file's content does not match its sha256.
        ValueError: Two entries name the same dest with different sha256.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    pending = [f for f in _unique_by_dest(files) if not _is_present(f)]
    if pending:
        bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024,
                   desc="ivif-bench download", disable=None if progress else True)
        with bar:
            _fetch_pending(pending, _Progress(bar), timeout, retries)
    return [f.dest for f in files]


def _unique_by_dest(files: Sequence[FileToFetch]) -> list[FileToFetch]:
    """Drops repeated dests, rejecting conflicting checksums for the same dest."""
    seen: dict[Path, FileToFetch] = {}
    for f in files:
        other = seen.setdefault(f.dest, f)
        if other.sha256 != f.sha256:
            raise ValueError(f"{f.dest} is listed twice with different sha256")
    return list(seen.values())


def _is_present(f: FileToFetch) -> bool:
    return f.dest.is_file() and sha256_file(f.dest) == f.sha256


def _fetch_pending(pending: list[FileToFetch], progress: _Progress, timeout: float, retries: int) -> None:
    """Fetches in input order; an archive is handled at its first member."""
    done_archives: set[str] = set()
    for f in pending:
        if f.member is None:
            _fetch_direct(f, progress, timeout, retries)
        elif f.url not in done_archives:
            done_archives.add(f.url)
            members = [g for g in pending if g.member is not None and g.url == f.url]
            _fetch_archive(f.url, members, progress, timeout, retries)


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _fetch_direct(f: FileToFetch, progress: _Progress, timeout: float, retries: int) -> None:
    part = _part_path(f.dest)
    progress.start(f.dest.name)
    _download(f.url, part, f.dest, progress, timeout, retries)
    actual = sha256_file(part)
    if actual != f.sha256:
        part.unlink()
        raise ChecksumError(f.dest, f.sha256, actual, url=f.url)
    os.replace(part, f.dest)


# --- resumable HTTP download -------------------------------------------------


def _download(url: str, part: Path, dest: Path, progress: _Progress, timeout: float, retries: int) -> None:
    """Completes ``part`` from ``url``, retrying (and resuming) transient failures."""
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(retries + 1):
        try:
            _download_once(url, part, progress, timeout)
            return
        except _TransientError as exc:
            if attempt == retries:
                kept = f"; partial data kept in {part.name}" if part.is_file() and part.stat().st_size else ""
                reason = f"{exc} (after {retries + 1} attempt(s){kept})"
                raise DownloadError(url, dest, reason) from exc
            time.sleep(_BACKOFF_S * 2 ** attempt)


def _download_once(url: str, part: Path, progress: _Progress, timeout: float) -> None:
    """One request: appends to ``part`` from its current size, or rewrites it."""
    offset = part.stat().st_size if part.exists() else 0
    resp = _open(url, offset, timeout)
    if resp is None:
        return  # 416: nothing left past offset, so the .part is whole
    with resp:
        offset, size = _resume_point(resp, offset, part)
        progress.begin_response(done=offset, size=size)
        with part.open("ab" if offset else "wb") as fh:
            written = _copy(resp, fh, progress)
    if size is not None and offset + written < size:
        raise _TransientError(f"connection closed after {offset + written} of {size} bytes")


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse | None:
    """Sends the GET; returns None when the server says the range is past the end."""
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            return None
        raise _TransientError(f"HTTP {exc.code} {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _TransientError(_describe(exc, timeout)) from exc


def _resume_point(resp: http.client.HTTPResponse, offset: int, part: Path) -> tuple[int, int | None]:
    """Returns (bytes already in ``part`` to keep, full file size if known)."""
    length = _int_or_none(resp.headers.get("Content-Length"))
    if resp.status != 206:
        # Server ignored Range (or none was sent): the body is the whole file.
        return 0, length
    match = _CONTENT_RANGE_RE.fullmatch((resp.headers.get("Content-Range") or "").strip())
    if match is None or int(match.group(1)) != offset:
        part.unlink(missing_ok=True)  # unusable partial answer: restart from zero next attempt
        raise _TransientError(f"unexpected Content-Range {resp.headers.get('Content-Range')!r} for offset {offset}")
    total = _int_or_none(match.group(3))
    if total is None and length is not None:
        total = offset + length
    return offset, total


def _copy(resp: http.client.HTTPResponse, fh: BinaryIO, progress: _Progress) -> int:
    """Streams the body into ``fh``; read errors are transient, write errors are not."""
    written = 0
    while True:
        try:
            chunk = resp.read(CHUNK_SIZE)
        except (OSError, http.client.HTTPException) as exc:
            raise _TransientError(_describe(exc, None)) from exc
        if not chunk:
            return written
        fh.write(chunk)
        written += len(chunk)
        progress.advance(len(chunk))


def _describe(exc: BaseException, timeout: float | None) -> str:
    """Short reason for a network exception, e.g. 'Connection refused'."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout}s" if timeout is not None else "timed out"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- zip archives -------------------------------------------------------------


def _archive_cache_path(url: str, first_dest: Path) -> Path:
    """``<dest parent>/.downloads/<url hash>-<safe file name>``; the hash keeps equal names apart."""
    name = PurePosixPath(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:100] or "archive"
    url_hash = hashlib.sha256(url.encode()).hexdigest()[:8]
    return first_dest.parent / ".downloads" / f"{url_hash}-{name}"


def _fetch_archive(url: str, members: list[FileToFetch], progress: _Progress, timeout: float, retries: int) -> None:
    """Downloads ``url`` once and extracts every wanted member from it.

    The cached archive is removed after success, and also when it proves
    corrupt or a member fails its checksum so that a re-run downloads it
    afresh; it is kept when a member name is missing or ambiguous, which is a
    manifest error rather than a bad download.
    """
    cache = _archive_cache_path(url, members[0].dest)
    if not zipfile.is_zipfile(cache):
        cache.unlink(missing_ok=True)
        part = _part_path(cache)
        progress.start(cache.name)
        _download(url, part, members[0].dest, progress, timeout, retries)
        os.replace(part, cache)
    try:
        with zipfile.ZipFile(cache) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            # Resolve every member first so a manifest error extracts nothing.
            chosen = [(f, _pick_member(infos, f, url)) for f in members]
            for f, info in chosen:
                _extract_one(zf, info, f, url)
    except ChecksumError:
        _remove_cache(cache)
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        _remove_cache(cache)
        raise DownloadError(url, members[0].dest, f"corrupt archive {cache.name}: {exc}") from exc
    _remove_cache(cache)


def _pick_member(infos: list[zipfile.ZipInfo], f: FileToFetch, url: str) -> zipfile.ZipInfo:
    assert f.member is not None
    wanted = PurePosixPath(f.member.strip("/")).parts
    matches = [i for i in infos if PurePosixPath(i.filename.replace("\\", "/")).parts[-len(wanted):] == wanted]
    if not matches:
        raise DownloadError(url, f.dest, f"archive has no member named {f.member!r}")
    if len(matches) > 1:
        names = ", ".join(i.filename for i in matches)
        raise DownloadError(url, f.dest, f"archive member name {f.member!r} is ambiguous: {names}")
    return matches[0]


def _extract_one(zf: zipfile.ZipFile, info: zipfile.ZipInfo, f: FileToFetch, url: str) -> None:
    """Writes a member via ``<dest>.part``, verifying its sha256 before the rename."""
    part = _part_path(f.dest)
    part.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with zf.open(info) as src, part.open("wb") as dst:
        while chunk := src.read(CHUNK_SIZE):
            digest.update(chunk)
            dst.write(chunk)
    if digest.hexdigest() != f.sha256:
        part.unlink()
        raise ChecksumError(f.dest, f.sha256, digest.hexdigest(), url=f"{url}#{info.filename}")
    os.replace(part, f.dest)


def _remove_cache(cache: Path) -> None:
    cache.unlink(missing_ok=True)
    try:
        cache.parent.rmdir()  # only succeeds when .downloads is empty
    except OSError:
        pass


# --- progress -----------------------------------------------------------------


class _Progress:
    """Feeds one tqdm bar; retries replace a file's contribution instead of adding to it."""

    def __init__(self, bar: tqdm) -> None:
        self._bar = bar
        self._size = 0  # this file's contribution to bar.total
        self._done = 0  # this file's contribution to bar.n
        self._size_known = True

    def start(self, name: str) -> None:
        """Begins a new file: its earlier counts stay in the bar."""
        self._size, self._done, self._size_known = 0, 0, True
        self._bar.set_postfix_str(name, refresh=False)

    def begin_response(self, done: int, size: int | None) -> None:
        """Records a new response for the current file (first try, retry or resume)."""
        self._size_known = size is not None
        new_size = size if size is not None else done
        self._bar.total = (self._bar.total or 0) - self._size + new_size
        self._bar.update(done - self._done)
        self._size, self._done = new_size, done

    def advance(self, n: int) -> None:
        if not self._size_known:
            # Unknown length: grow the total so the bar never overshoots it.
            self._bar.total += n
            self._size += n
        self._done += n
        self._bar.update(n)
