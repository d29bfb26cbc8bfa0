"""Tests for bench.download against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import re
import sys
import socket
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from bench import download
from bench.download import ChecksumError, DownloadError, FileToFetch, fetch_files, sha256_file

RANGE_RE = re.compile(r"bytes=(\d+)-$")


class _Server(ThreadingHTTPServer):
    """Serves files under ``root``; behaviour switches are plain attributes."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.ignore_range = False  # answer 200 with the whole file even when Range is sent
        self.fail_next = 0  # answer this many requests with 503
        self.truncate_next = 0  # promise the full length but send only half, this many times
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.user_agents: list[str | None] = []
        self.lock = threading.Lock()

    def url(self, rel: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{urllib.parse.quote(rel)}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature from base class
        pass  # keep pytest output clean

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, self.headers.get("Range")))
            srv.user_agents.append(self.headers.get("User-Agent"))
            fail = srv.fail_next > 0
            srv.fail_next -= fail
            truncate = srv.truncate_next > 0
            srv.truncate_next -= truncate
        if fail:
            self.send_error(503)
            return
        path = (srv.root / urllib.parse.unquote(self.path.lstrip("/"))).resolve()
        if not path.is_file() or not path.is_relative_to(srv.root.resolve()):
            self.send_error(404)
            return
        self._send_file(path.read_bytes(), truncate)

    def _send_file(self, data: bytes, truncate: bool) -> None:
        match = RANGE_RE.match(self.headers.get("Range") or "")
        start = int(match.group(1)) if match and not self.server.ignore_range else None
        if start is not None and start >= len(data):
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data if start is None else data[start:]
        self.send_response(200 if start is None else 206)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "_BACKOFF_S", 0.0)


@pytest.fixture
def serve() -> Iterator[Callable[[Path], _Server]]:
    """Factory starting servers on free ports; all are shut down and joined at teardown."""
    started: list[tuple[_Server, threading.Thread]] = []

    def start(root: Path) -> _Server:
        srv = _Server(root)
        thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        started.append((srv, thread))
        return srv

    yield start
    for srv, thread in started:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def server(serve: Callable[[Path], _Server], tmp_path: Path) -> _Server:
    root = tmp_path / "srv"
    root.mkdir()
    return serve(root)


def _publish(srv: _Server, rel: str, data: bytes) -> str:
    path = srv.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return srv.url(rel)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(n: int, seed: int = 0) -> bytes:
    # Non-repeating bytes, so a misplaced or duplicated chunk changes the hash.
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


def _part(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


# --- plain files ------------------------------------------------------------------


def test_plain_download_creates_dirs_and_verifies(server: _Server, tmp_path: Path) -> None:
    data = _payload(2 * download.CHUNK_SIZE + 12345)  # several 1 MiB chunks
    url = _publish(server, "set/ir/01.png", data)
    dest = tmp_path / "out" / "deep" / "01.png"

    result = fetch_files([FileToFetch(url, dest, _sha(data))], progress=False)

    assert result == [dest]
    assert dest.read_bytes() == data
    assert not _part(dest).exists()
    assert server.requests == [("/set/ir/01.png", None)]
    assert server.user_agents == ["ivif-bench"]


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    data = _payload(download.CHUNK_SIZE + 7)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path) == _sha(data)
    assert sha256_file(str(path), chunk_size=1000) == _sha(data)


def test_skips_file_already_present(server: _Server, tmp_path: Path) -> None:
    data = b"already here"
    dest = tmp_path / "a.png"
    dest.write_bytes(data)

    result = fetch_files([FileToFetch(server.url("a.png"), dest, _sha(data))], progress=False)

    assert result == [dest]
    assert server.requests == []


def test_wrong_existing_dest_is_redownloaded(server: _Server, tmp_path: Path) -> None:
    data = _payload(5000)
    url = _publish(server, "a.png", data)
    dest = tmp_path / "a.png"
    dest.write_bytes(b"stale content")

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False)

    assert dest.read_bytes() == data
    assert len(server.requests) == 1


def test_resumes_from_partial_file(server: _Server, tmp_path: Path) -> None:
    data = _payload(3 * download.CHUNK_SIZE // 2)
    url = _publish(server, "big.bin", data)
    dest = tmp_path / "big.bin"
    half = len(data) // 2
    _part(dest).write_bytes(data[:half])

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False)

    assert server.requests == [("/big.bin", f"bytes={half}-")]
    assert dest.read_bytes() == data
    assert not _part(dest).exists()


def test_server_ignoring_range_restarts_from_zero(server: _Server, tmp_path: Path) -> None:
    data = _payload(100_000)
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    # Garbage prefix: only a truncate-and-restart gives the right result.
    _part(dest).write_bytes(b"\xff" * 40_000)
    server.ignore_range = True

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False)

    assert server.requests == [("/f.bin", "bytes=40000-")]
    assert dest.read_bytes() == data


def test_416_means_partial_file_is_complete(server: _Server, tmp_path: Path) -> None:
    data = _payload(10_000)
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    _part(dest).write_bytes(data)

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False)

    assert server.requests == [("/f.bin", f"bytes={len(data)}-")]
    assert dest.read_bytes() == data


def test_dropped_connection_is_retried_with_resume(server: _Server, tmp_path: Path) -> None:
    data = _payload(200_000)
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    server.truncate_next = 1

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False, retries=1)

    assert server.requests == [("/f.bin", None), ("/f.bin", f"bytes={len(data) // 2}-")]
    assert dest.read_bytes() == data


def test_transient_server_error_is_retried(server: _Server, tmp_path: Path) -> None:
    data = b"x" * 1000
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    server.fail_next = 2

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False, retries=2)

    assert len(server.requests) == 3
    assert dest.read_bytes() == data


def test_failure_keeps_part_for_next_run(server: _Server, tmp_path: Path) -> None:
    data = _payload(100_000)
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    server.truncate_next = 1

    with pytest.raises(DownloadError):
        fetch_files([FileToFetch(url, dest, _sha(data))], progress=False, retries=0)
    assert _part(dest).stat().st_size == len(data) // 2
    assert not dest.exists()

    fetch_files([FileToFetch(url, dest, _sha(data))], progress=False, retries=0)
    assert server.requests[-1] == ("/f.bin", f"bytes={len(data) // 2}-")
    assert dest.read_bytes() == data


def test_checksum_mismatch_raises_and_leaves_nothing(server: _Server, tmp_path: Path) -> None:
    data = b"real content"
    url = _publish(server, "f.bin", data)
    dest = tmp_path / "f.bin"
    expected = "0" * 64

    with pytest.raises(ChecksumError) as info:
        fetch_files([FileToFetch(url, dest, expected)], progress=False)

    message = str(info.value)
    assert str(dest) in message
    assert expected in message and _sha(data) in message
    assert info.value.actual == _sha(data)
    assert not dest.exists()
    assert not _part(dest).exists()


def test_404_raises_download_error_naming_url(server: _Server, tmp_path: Path) -> None:
    url = server.url("missing.png")
    dest = tmp_path / "missing.png"

    with pytest.raises(DownloadError) as info:
        fetch_files([FileToFetch(url, dest, "a" * 64)], progress=False, retries=2)

    message = str(info.value)
    assert url in message and str(dest) in message and "404" in message
    assert len(server.requests) == 3  # first try + 2 retries
    assert not dest.exists()


def test_connection_refused_raises_download_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    url = f"http://127.0.0.1:{port}/f.bin"
    dest = tmp_path / "f.bin"

    with pytest.raises(DownloadError) as info:
        fetch_files([FileToFetch(url, dest, "a" * 64)], progress=False, timeout=2.0, retries=1)

    assert url in str(info.value)
    assert "refused" in str(info.value).lower()
    assert not dest.exists()


def test_progress_writes_nothing_to_stdout(server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    data = _payload(50_000)
    url = _publish(server, "f.bin", data)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # the bar shows only on a terminal

    fetch_files([FileToFetch(url, tmp_path / "f.bin", _sha(data))], progress=True)

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ivif-bench download" in captured.err


def test_returns_dests_in_input_order_including_skipped(server: _Server, tmp_path: Path) -> None:
    a, b = _payload(1000, seed=1), _payload(1000, seed=2)
    url_a, url_b = _publish(server, "a", a), _publish(server, "b", b)
    (tmp_path / "b").write_bytes(b)
    files = [FileToFetch(url_b, tmp_path / "b", _sha(b)), FileToFetch(url_a, tmp_path / "a", _sha(a))]

    assert fetch_files(files, progress=False) == [tmp_path / "b", tmp_path / "a"]
    assert server.requests == [("/a", None)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://host/f", "sha256": "a" * 64},
        {"url": "http://host/f", "sha256": "not-a-hash"},
        {"url": "http://host/f", "sha256": "a" * 64, "member": ""},
    ],
)
def test_file_to_fetch_rejects_bad_fields(kwargs: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FileToFetch(dest=tmp_path / "f", **kwargs)


# --- zip archives -----------------------------------------------------------------


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pack/", b"")  # a directory entry must not count as a member
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_members_extracted_from_one_download(server: _Server, tmp_path: Path) -> None:
    ir, vi = _payload(3000, seed=1), _payload(4000, seed=2)
    url = _publish(server, "archives/my set.zip", _zip_bytes(
        {"pack/ir/a.png": ir, "pack/vi/b.png": vi, "pack/readme.txt": b"hi"}))
    files = [
        FileToFetch(url, tmp_path / "ir" / "a.png", _sha(ir), member="a.png"),
        FileToFetch(url, tmp_path / "vi" / "b.png", _sha(vi), member="b.png"),
    ]

    assert fetch_files(files, progress=False) == [f.dest for f in files]

    assert (tmp_path / "ir" / "a.png").read_bytes() == ir
    assert (tmp_path / "vi" / "b.png").read_bytes() == vi
    assert len(server.requests) == 1
    assert not (tmp_path / "ir" / ".downloads").exists()  # cache removed after success
    assert not list(tmp_path.rglob("*.part"))


def test_zip_member_path_suffix_disambiguates(server: _Server, tmp_path: Path) -> None:
    ir, vi = _payload(500, seed=3), _payload(500, seed=4)
    url = _publish(server, "s.zip", _zip_bytes({"pack/ir/01.png": ir, "pack/vi/01.png": vi}))
    files = [
        FileToFetch(url, tmp_path / "ir" / "01.png", _sha(ir), member="ir/01.png"),
        FileToFetch(url, tmp_path / "vi" / "01.png", _sha(vi), member="vi/01.png"),
    ]

    fetch_files(files, progress=False)

    assert (tmp_path / "ir" / "01.png").read_bytes() == ir
    assert (tmp_path / "vi" / "01.png").read_bytes() == vi


def test_zip_missing_member_raises(server: _Server, tmp_path: Path) -> None:
    url = _publish(server, "s.zip", _zip_bytes({"pack/a.png": b"a"}))
    dest = tmp_path / "nope.png"

    with pytest.raises(DownloadError) as info:
        fetch_files([FileToFetch(url, dest, "a" * 64, member="nope.png")], progress=False)

    assert "nope.png" in str(info.value) and url in str(info.value)
    assert not dest.exists()


def test_zip_ambiguous_member_raises(server: _Server, tmp_path: Path) -> None:
    url = _publish(server, "s.zip", _zip_bytes({"pack/ir/01.png": b"i", "pack/vi/01.png": b"v"}))

    with pytest.raises(DownloadError, match="ambiguous"):
        fetch_files([FileToFetch(url, tmp_path / "01.png", _sha(b"i"), member="01.png")], progress=False)

    assert not (tmp_path / "01.png").exists()


def test_zip_member_checksum_mismatch(server: _Server, tmp_path: Path) -> None:
    url = _publish(server, "s.zip", _zip_bytes({"pack/a.png": b"a"}))
    dest = tmp_path / "a.png"

    with pytest.raises(ChecksumError) as info:
        fetch_files([FileToFetch(url, dest, "b" * 64, member="a.png")], progress=False)

    assert str(dest) in str(info.value)
    assert not dest.exists() and not _part(dest).exists()


def test_corrupt_archive_raises_download_error(server: _Server, tmp_path: Path) -> None:
    url = _publish(server, "s.zip", b"<html>not a zip</html>")

    with pytest.raises(DownloadError, match="corrupt archive"):
        fetch_files([FileToFetch(url, tmp_path / "a.png", "b" * 64, member="a.png")], progress=False)

    assert not (tmp_path / ".downloads").exists()


def test_zip_download_resumes_from_partial_cache(server: _Server, tmp_path: Path) -> None:
    data = _payload(2000)
    archive = _zip_bytes({"pack/a.png": data, "pack/pad.bin": _payload(100_000, seed=9)})
    url = _publish(server, "s.zip", archive)
    dest = tmp_path / "a.png"
    cache = download._archive_cache_path(url, dest)
    cache.parent.mkdir()
    _part(cache).write_bytes(archive[:50_000])

    fetch_files([FileToFetch(url, dest, _sha(data), member="a.png")], progress=False)

    assert server.requests == [("/s.zip", "bytes=50000-")]
    assert dest.read_bytes() == data


# --- real data from the shared folder ---------------------------------------------------


def test_fetch_real_tno42_files_from_shared_copy(serve: Callable[[Path], _Server], tmp_path: Path,
                                                 data_root: Path) -> None:
    srv = serve(data_root)
    rels = ["tno42/ir/01.png", "tno42/vi/01.png", "tno42/ir/02.png"]
    files = [FileToFetch(srv.url(rel), tmp_path / rel, sha256_file(data_root / rel)) for rel in rels]

    result = fetch_files(files, progress=False)

    assert result == [tmp_path / rel for rel in rels]
    for rel in rels:
        assert (tmp_path / rel).read_bytes() == (data_root / rel).read_bytes()
    assert sorted(path for path, _ in srv.requests) == sorted(f"/{rel}" for rel in rels)
