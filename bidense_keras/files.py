"""Files: every write the package makes is atomic and non-destructive, and every folder in use is locked.

Three rules, the way git and rsync behave:

* atomic: a file or folder is written under a temporary name beside its target and renamed into
  place, so an interrupted write leaves the old file (or none), never half of a new one; the
  temporaries of a killed writer are removed by the next process that writes beside them;
* non-destructive: an existing file is replaced only when the caller says so (``overwrite``, or an
  ``ours`` test that recognises a file the package wrote), a folder is replaced as a whole only when
  it holds nothing but the files the writer makes, and a file is never deleted that the package did
  not write (:class:`OutputExistsError` names what is in the way);
* locked: :func:`folder_lock` gives one process at a time a folder (a training run, a prediction
  folder); a second one gets :class:`FolderInUseError` instead of interleaving its files.
"""

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

import filelock

from bidense_keras.errors import FolderInUseError, OutputExistsError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_FILE = ".bidense_keras.lock"


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale(folder, pattern):
    """Deletes the entries of ``folder`` that ``pattern`` (a regex with a ``pid`` group) names for a dead process."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        match = re.fullmatch(pattern, entry.name)
        if match and int(match["pid"]) != os.getpid() and not _process_alive(int(match["pid"])):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


_SWEPT_FOLDERS = set()  # folders whose dead writers' temporaries this process has removed


def _remove_stale_temporaries(folder):
    """Removes the ``.PID.partial.NAME`` temporaries of dead writers in ``folder``, once per folder and process:
    a writer killed before this process began leaves them; listing the folder at every write would make a
    bulk export (thousands of files in one folder) quadratic."""
    key = os.path.abspath(folder)
    if key not in _SWEPT_FOLDERS:
        _remove_stale(Path(folder), r"\.(?P<pid>\d+)\.partial\..+")
        _SWEPT_FOLDERS.add(key)


def check_replaceable(path, overwrite=False, ours=None):
    """Raises unless writing the file ``path`` loses nothing of the user's.

    Args:
        path: the file to write.
        overwrite: the caller was told to replace an existing file.
        ours: ``ours(path) -> bool``, whether an existing file is one the package wrote (replaced freely).

    Raises:
        IsADirectoryError: ``path`` is a folder.
        OutputExistsError: ``path`` is a file the package cannot tell it wrote, and ``overwrite`` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the name of a file to write.")
    if path.exists() and not overwrite and not (ours is not None and ours(path)):
        raise OutputExistsError(f"{path} already exists and was not written by bidense_keras: choose another name, "
                                "or pass overwrite=True (--overwrite) to replace it.")


@contextlib.contextmanager
def atomic_path(path, *, overwrite=True, ours=None):
    """Yields a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps ``path``'s suffixes (Keras checks ``.weights.h5``) and is hidden and
    process-specific, so concurrent writers never share it; a killed writer's temporaries are removed
    by the next process that writes into the same folder.

    Args:
        path: the file to write.
        overwrite, ours: see :func:`check_replaceable` (the default replaces: the package's own files).
    """
    path = Path(path)
    check_replaceable(path, overwrite, ours)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path.parent)
    temporary = path.with_name(f".{os.getpid()}.partial.{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path, text, **options):
    """Writes ``text`` to ``path`` through :func:`atomic_path` (``options``: its ``overwrite``, ``ours``); returns ``path``."""
    with atomic_path(path, **options) as temporary:
        temporary.write_text(text)
    return Path(path)


def write_bytes_atomic(path, data, **options):
    """Writes ``data`` to ``path`` through :func:`atomic_path` (``options``: its ``overwrite``, ``ours``); returns ``path``."""
    with atomic_path(path, **options) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def foreign_entries(folder, owned_names, ignore_hidden=False):
    """Sorted names in ``folder`` (none if it does not exist) that its writer did not make: neither in
    ``owned_names`` nor the package's lock and temporaries (nor, with ``ignore_hidden``, any hidden name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.name not in owned_names and entry.name != LOCK_FILE and ".partial" not in entry.name
                  and not (ignore_hidden and entry.name.startswith(".")))


def name_some(names, most=5):
    """``"a, b, c"``, or the first ``most`` names and ``"and N more"``: for messages naming files."""
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


@contextlib.contextmanager
def atomic_folder(path, owned_names=None, overwrite=False):
    """Yields an empty temporary folder beside ``path``; on success its files take ``path``'s place.

    * ``path`` absent, or holding only ``owned_names``: the new folder replaces it as a whole (the old
      one is moved aside, the new one renamed into place, the old one deleted);
    * ``path`` holding other files: refused, unless ``overwrite``, when the new files are moved in one
      by one and every other file stays;
    * ``path`` a file: refused.

    An interrupted writer leaves ``path`` as it was; its partial folder is removed then or by the next writer.

    Args:
        path: the folder to write.
        owned_names: the names the writer makes (default: any existing folder counts as foreign unless empty).
        overwrite: write into a folder that holds other files, keeping them.

    Raises:
        OutputExistsError: ``path`` is a file, or a folder holding other files without ``overwrite``.
    """
    path = Path(path)
    owned_names = set(owned_names or ())
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"{path} is a file, not a folder: a folder is written there. Choose another path.")
    foreign = foreign_entries(path, owned_names)
    if foreign and not overwrite:
        raise OutputExistsError(f"{path} holds files bidense_keras did not write ({name_some(foreign)}): choose an empty or new "
                                "folder, or pass overwrite=True (--overwrite) to write beside them (they are kept).")
    path.parent.mkdir(parents=True, exist_ok=True)
    escaped = re.escape(path.name)
    _remove_stale(path.parent, rf"\.{escaped}\.(?P<pid>\d+)\.(partial|old)")
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    for leftover in (partial, old):
        shutil.rmtree(leftover, ignore_errors=True)
    partial.mkdir()
    try:
        yield partial
        if foreign:  # overwrite: the user's files stay, ours are replaced one by one
            for entry in partial.iterdir():
                os.replace(entry, path / entry.name)
        else:
            if path.exists():
                os.replace(path, old)
            os.replace(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _lock_unix(path, what):
    """An open descriptor of ``path`` holding its exclusive ``flock`` (``"<pid> <what>"`` written in it), or None
    when another process holds it.

    The holder deletes the file when it is done; a process that opened the old file just before then
    finds that its descriptor is no longer ``path`` and opens the new one, so two never both hold it.
    """
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        try:
            current = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            current = False
        if current:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, f"{os.getpid()} {what}".encode())
            return descriptor
        os.close(descriptor)


def _holder(path):
    """``"pid <id>: <what>"`` of the process holding a lock file (as :func:`_lock_unix` wrote it)."""
    try:
        pid, _, what = Path(path).read_text().strip().partition(" ")
    except OSError:
        pid, what = "", ""
    return f"pid {pid or '?'}: {what or 'unknown use'}"


@contextlib.contextmanager
def folder_lock(folder, what="this folder"):
    """Holds ``folder``'s lock (``.bidense_keras.lock`` in it, removed again at the end) while the block runs.

    The lock is the operating system's (``flock``), so a killed holder never leaves a stale lock.

    Args:
        folder: the folder (created).
        what: what uses it, for the error message (``"training run"``).

    Raises:
        FolderInUseError: another process holds the lock.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    if fcntl is None:  # Windows: filelock's msvcrt lock (deleted on release there too)
        lock = filelock.FileLock(path, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout as error:
            raise FolderInUseError(f"{folder} is in use by another bidense-keras process ({what}).") from error
        try:
            yield folder
        finally:
            lock.release()
        return
    descriptor = _lock_unix(path, what)
    if descriptor is None:
        raise FolderInUseError(f"{folder} is in use by another bidense-keras process ({_holder(path)}): wait for it "
                               "to end, or choose another folder.")
    try:
        yield folder
    finally:
        path.unlink(missing_ok=True)  # while still holding it: see _lock_unix
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def sha256_of(path, chunk_size=1 << 20):
    """The hex sha256 of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
