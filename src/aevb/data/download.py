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
"""The block size, in bytes (1 MiB), in which downloads are read and files are hashed."""
USER_AGENT = "aevb-data/1 (+python urllib)"
"""The ``User-Agent`` header of every download request."""
SCHEMES = ("http", "https", "file")
"""The URL schemes ``download`` accepts; a URL with another scheme is skipped."""
MAX_BYTES = 1 << 31
"""The default limit, in bytes (2 GiB), on what one URL may send (``max_bytes`` of ``download``)."""


class _Transient(Exception):
    """A failure worth retrying on the same URL (dropped connection, timeout, server error)."""


class _Permanent(Exception):
    """A failure that retrying the same URL will not fix (404, wrong checksum, bad content)."""


def sha256_file(path: Path) -> str:
    """The hex sha256 digest of a file, read in chunks.

    Parameters
    ----------
    path : pathlib.Path
        The file to hash; it is read in blocks of ``CHUNK`` bytes.

    Returns
    -------
    str
        The lowercase hex sha256 digest of the file's bytes.
    """
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
    """Stream ``url`` into ``tmp`` (truncating it); return the sha256 of what was received.

    Returns
    -------
    str
        The hex sha256 digest of the bytes received.

    Raises
    ------
    _Permanent
        If the server announces or sends more than ``max_bytes``, answers an HTTP error other than 5xx, 408 or
        429, the file is not found, or the host cannot be resolved.
    _Transient
        If the connection closes early, the server answers HTTP 5xx, 408 or 429, the connection fails, or a
        connect or read times out.
    DataError
        If ``tmp`` cannot be written.
    """
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

    The bytes stream into a temporary file next to ``dest``, which is renamed onto ``dest`` only once complete and
    verified. A copy is accepted when its sha256 is among ``sha256``, else when ``validate`` accepts it, else
    (no digest and no ``validate`` given) as it is.

    Parameters
    ----------
    urls : Sequence[str]
        The canonical URL first, then mirrors; ``http``, ``https`` and ``file`` URLs are allowed (others are
        skipped and reported).
    dest : str or os.PathLike
        Where the file ends up; its folder is created when missing.
    sha256 : str or Iterable[str] or None
        The accepted hex digest(s) of the file (any case). ``None`` or empty means no published digest, in which
        case ``validate`` (when given) decides.
    timeout : float, default 30.0
        Seconds each connect or read may block.
    retries : int, default 2
        Further tries of the same URL after a transient failure (dropped connection, timeout, HTTP 5xx, 408 or
        429); a 404 or a checksum mismatch moves straight on to the next URL.
    validate : Callable[[Path], None] or None, default None
        A content check run on a downloaded file whose digest is not among ``sha256``; it raises ``DataError``
        to reject the file.
    max_bytes : int, default MAX_BYTES
        Give up on a URL that announces or sends more than this many bytes (default 2 GiB).
    progress : bool, default False
        Print progress lines to stderr: the URL of each try, then the bytes received, at most once a second.

    Returns
    -------
    pathlib.Path
        ``dest``, now holding the verified file.

    Raises
    ------
    DataError
        If ``urls`` is empty; if the folder of ``dest`` cannot be created or written to; if no URL gave a
        verified file (the message lists each URL and why it failed).
    """  # noqa: DOC501 (the _Permanent raised here is caught here)
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
