"""Files: written so that an interrupted write never leaves a half-written file behind, and hashed."""

import contextlib
import hashlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps ``path``'s suffixes (Keras checks ``.weights.h5``) and is hidden
    and process-specific, so concurrent writers never share it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{os.getpid()}.partial.{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path, text):
    """Writes ``text`` to ``path`` through :func:`atomic_path`; returns ``path``."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_bytes_atomic(path, data):
    """Writes ``data`` to ``path`` through :func:`atomic_path`; returns ``path``."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


@contextlib.contextmanager
def atomic_folder(path):
    """Yields an empty temporary folder beside ``path``; on success it replaces ``path`` as a whole.

    An interrupted writer leaves ``path`` as it was (or absent) and removes its partial folder;
    the old folder is moved aside before the new one is renamed into place, then deleted.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    partial.mkdir()
    try:
        yield partial
        if path.exists():
            os.replace(path, old)
        os.replace(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def sha256_of(path, chunk_size=1 << 20):
    """The hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
