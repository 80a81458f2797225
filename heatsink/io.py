"""Files: atomic writing (an interrupted run never leaves a half-written output behind) and
the one file hash every part of the package uses."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of one file's bytes, read in chunks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "x"
    ...     _ = path.write_bytes(b"abc")
    ...     file_sha256(path)[:12]
    'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def umask() -> int:
    """The process's file-creation mask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same folder, so the final ``os.replace`` is atomic on
    POSIX file systems. On any exception the temporary file is removed and ``path`` is left
    as it was.

    Examples
    --------
    >>> with atomic_path("table.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        # (or the mode of the file it replaces)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def link_atomic(source: str | Path, path: str | Path) -> None:
    """Make ``path`` a second name of the file ``source`` (a hard link), atomically.

    For a file that is only ever replaced whole (as :func:`atomic_path` does), never changed
    in place: both names keep the same bytes until ``source`` is replaced, after which
    ``path`` still holds the old ones. Where hard links are not possible (another file
    system), the file is copied instead.
    """
    import shutil

    with atomic_path(path) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def swap_folder(staging: str | Path, dest: str | Path) -> None:
    """Put the finished folder ``staging`` at ``dest``, replacing an earlier ``dest``: a
    reader sees the old folder or the new one, never half of one (both on one file system).

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name, text in (("new", "2"), ("dest", "1")):
    ...     (root / name).mkdir()
    ...     _ = (root / name / "f.txt").write_text(text)
    >>> swap_folder(root / "new", root / "dest")
    >>> (root / "dest" / "f.txt").read_text(), (root / "new").exists()
    ('2', False)
    """
    import shutil

    staging, dest = Path(staging), Path(dest)
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(staging, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def exclusive_folder(folder: str | Path, purpose: str, wait: bool = False
                     ) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (``folder/.lock``) for the ``with`` block.

    Two processes writing one folder (two ``make study`` runs, or ``heatsink train`` on a
    folder a notebook is training in) would interleave their checkpoints. The lock is an
    advisory ``flock``: the operating system releases it when the holder exits, however it
    exits, so a killed run never leaves a stale lock behind.

    With ``wait``, a process that finds the lock held waits for it instead: for work that any
    process may do once and the others should then reuse, not redo (the default twin's first
    generation, when two commands or two test workers start on a machine that has none).

    Raises
    ------
    HeatsinkError
        At once, if another process holds the lock and ``wait`` is false; the message names
        the folder, the holder's process id and ``purpose``.
    """
    import fcntl

    from heatsink.errors import HeatsinkError

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".lock"
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise HeatsinkError(
                f"{folder}: another process (pid {holder}) is {purpose} in this folder; "
                "wait for it to finish, or use another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = [
    "atomic_path",
    "exclusive_folder",
    "file_sha256",
    "link_atomic",
    "swap_folder",
    "umask",
    "write_text_atomic",
]
