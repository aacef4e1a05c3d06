"""Fetch a file from a list of mirrors, verify it, and move it into place atomically.

The bytes stream into a temporary file next to ``dest``; only a complete, verified file is renamed onto
``dest`` (``os.replace``), so an interrupted or corrupted transfer never leaves a partial file behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from aevb.errors import DataError

CHUNK = 1 << 20
USER_AGENT = "aevb-data/1 (+python urllib)"
SCHEMES = ("http", "https", "file")
MAX_BYTES = 1 << 31


class _Transient(Exception):
    """A failure worth retrying on the same URL (dropped connection, timeout, server error)."""


class _Permanent(Exception):
    """A failure that retrying the same URL will not fix (404, wrong checksum, bad content)."""


def sha256_file(path: Path) -> str:
    """The hex sha256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _digests(sha256: str | Iterable[str] | None) -> frozenset[str]:
    if sha256 is None:
        return frozenset()
    if isinstance(sha256, str):
        return frozenset({sha256.lower()})
    return frozenset(s.lower() for s in sha256)


def _fetch_once(url: str, tmp: Path, timeout: float, max_bytes: int, progress: bool) -> str:
    """Stream ``url`` into ``tmp`` (truncating it); return the sha256 of what was received."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(tmp, "wb") as out:
            length_header = response.headers.get("Content-Length")
            expected = int(length_header) if length_header and length_header.isdigit() else None
            if expected is not None and expected > max_bytes:
                raise _Permanent(f"server announces {expected} bytes, more than the limit of {max_bytes}")
            last_report = time.monotonic()
            while chunk := response.read(CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise _Permanent(f"more than {max_bytes} bytes received; stopped")
                digest.update(chunk)
                out.write(chunk)
                if progress and time.monotonic() - last_report > 1.0:
                    last_report = time.monotonic()
                    total = f" of {expected}" if expected else ""
                    print(f"  {received} bytes{total}", file=sys.stderr, flush=True)
            if expected is not None and received != expected:
                raise _Transient(f"connection closed after {received} of {expected} bytes")
    except urllib.error.HTTPError as err:
        if err.code >= 500 or err.code in (408, 429):
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise _Permanent(f"HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, FileNotFoundError) or isinstance(reason, str) and "No such file" in reason:
            raise _Permanent(f"not found ({reason})") from err
        if isinstance(reason, socket.gaierror):  # no DNS (offline): retrying will not help
            raise _Permanent(f"cannot resolve the host ({reason})") from err
        raise _Transient(f"cannot connect ({reason})") from err
    except TimeoutError as err:
        raise _Transient(f"timed out after {timeout:g} s") from err
    except (http.client.HTTPException, ConnectionError, OSError) as err:
        if isinstance(err, OSError) and err.filename is not None and Path(err.filename) == tmp:
            raise DataError(f"cannot write {tmp}: {err.strerror or err}") from err
        raise _Transient(f"transfer failed ({type(err).__name__}: {err})") from err
    return digest.hexdigest()


def download(
    urls: Sequence[str],
    dest: str | os.PathLike[str],
    sha256: str | Iterable[str] | None,
    *,
    timeout: float = 30.0,
    retries: int = 2,
    validate: Callable[[Path], None] | None = None,
    max_bytes: int = MAX_BYTES,
    progress: bool = False,
) -> Path:
    """Download the first good copy among ``urls`` to ``dest`` and return ``dest``.

    Args:
        urls: the canonical URL first, then mirrors; ``http``, ``https`` and ``file`` URLs are allowed.
        dest: where the file ends up; its folder is created when missing.
        sha256: the accepted hex digest(s) of the file. ``None`` or empty means no published digest, in which
            case ``validate`` (when given) decides.
        timeout: seconds each connect or read may block.
        retries: further tries of the same URL after a transient failure (dropped connection, timeout, HTTP
            5xx); a 404 or a checksum mismatch moves straight on to the next URL.
        validate: a content check run on a downloaded file whose digest is not among ``sha256``; it raises
            :class:`DataError` to reject the file.
        max_bytes: give up on a URL that sends more than this.
        progress: print progress lines to stderr.

    Raises:
        DataError: no URL gave a verified file; the message lists each URL and why it failed.
    """
    dest = Path(dest)
    accepted = _digests(sha256)
    if not urls:
        raise DataError(f"no URL known for {dest.name}; place the file at {dest} yourself")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the folder {dest.parent} for {dest.name}: {err.strerror or err}") from err
    failures: list[str] = []
    for url in urls:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in SCHEMES:
            failures.append(f"{url}: unsupported URL scheme {scheme!r} (allowed: {', '.join(SCHEMES)})")
            continue
        for attempt in range(max(0, retries) + 1):
            try:
                fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            except OSError as err:
                raise DataError(f"cannot write to {dest.parent}: {err.strerror or err}") from err
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                if progress:
                    print(f"aevb: downloading {url} -> {dest}", file=sys.stderr, flush=True)
                got = _fetch_once(url, tmp, timeout, max_bytes, progress)
                if got not in accepted:
                    if validate is None and accepted:
                        raise _Permanent(f"sha256 mismatch: expected {' or '.join(sorted(accepted))}, got {got}")
                    if validate is not None:
                        try:
                            validate(tmp)
                        except DataError as err:
                            raise _Permanent(
                                f"sha256 {got} is not a known digest and the content check failed: {err}"
                            ) from err
                os.replace(tmp, dest)
                return dest
            except _Transient as err:
                failures.append(f"{url}: {err} (try {attempt + 1} of {retries + 1})")
                if attempt < retries:
                    time.sleep(min(0.25 * 2**attempt, 2.0))
            except _Permanent as err:
                failures.append(f"{url}: {err}")
                break
            finally:
                tmp.unlink(missing_ok=True)
    details = "\n  ".join(failures)
    raise DataError(
        f"could not download {dest.name} to {dest}; every URL failed:\n  {details}\n"
        f"Fetch the file yourself from one of these URLs and place it at {dest}."
    )
