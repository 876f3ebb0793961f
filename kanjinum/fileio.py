"""Atomic file writes: a crash or a kill never leaves a half-written file behind.

Write to a temporary file in the destination folder, flush and fsync it, then rename it over the
destination; rename is atomic on POSIX, so readers see either the old file or the new one.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def home_expanded(path: str) -> str:
    """path with a leading ~ (alone, or before a slash) as the home folder. A shell expands ~
    only at the start of a word, so `--out=~/runs/a` came as it was: train's --data read
    ~/d.txt from the home folder, while eval's was 'not found' and gen-data and train made a
    folder named ~ in the current one. ~name stays as typed: a file may begin with ~, and
    Path.expanduser ended `--data ~notes.txt` in a traceback ('Could not determine home
    directory')."""
    if path == "~" or path.startswith(("~/", "~" + os.sep)):
        return os.path.expanduser(path)  # HOME, else the user's entry; unchanged if neither
    return path


def user_path(path: str | os.PathLike) -> Path:
    """A path given to the library as a Path, a leading ~ as the home folder (`home_expanded`),
    as the CLI reads its options and fit its config.data: fit(config, "~/runs/a") made a
    folder named ~ in the current one, and read_dataset("~/d.txt") was "not found" where
    fit(TrainConfig(data="~/d.txt")) read it."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    return Path(home_expanded(path) if isinstance(path, str) else path)


def file_where_a_folder_should_be(path: str | os.PathLike) -> Path | None:
    """The nearest existing parent of path when it is a file, not a folder (data/kanji.txt in
    data/kanji.txt/x.png): the system's own words for it ("File exists", "Not a directory")
    would not say which part is wrong."""
    for parent in Path(path).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def broken_link_on_the_way(path: str | os.PathLike) -> Path | None:
    """The first folder on path that is a symbolic link to nothing (runs -> a removed disk):
    the system's own word for it, "File exists", would not say what is wrong."""
    path = Path(path)
    for part in reversed([path, *path.parents]):
        if part.is_symlink() and not part.exists():
            return part
    return None


def folder_named(option: str, given: str, example: str, what: str = "the file to write"
                 ) -> str | None:
    """Why an output option that names a folder cannot be written, or None: a folder that is
    there, or one meant by a final slash, which Path() drops (`--out mydata/` wrote a file named
    mydata). The same words for both, in each command that writes a file."""
    if not (given.endswith(("/", os.sep)) or os.path.isdir(given)):
        return None
    from kanjinum.errors import shell_word

    return (f"{option} {given} names a folder; name {what} in it, e.g. {option} "
            f"{shell_word(Path(given) / example)}")


def why_unwritable(path: str | os.PathLike, makes_folders: bool = False) -> str | None:
    """Why a file could not be written at path, found before any work is spent on its content
    (a benchmark, a data set, a heatmap): a file where a folder should be, a missing folder
    (unless the writer makes it: makes_folders), a folder this process cannot write in
    (permissions, a read-only file system). None when it can."""
    blocking = file_where_a_folder_should_be(path)
    if blocking is not None:
        return f"{blocking} is a file, not a folder"
    name_bytes, name_max = len(os.fsencode(Path(path).name)), _longest_name(path)
    if name_bytes > name_max:  # found after the work: attend's answers, a million lines drawn
        return (f"its name is {name_bytes} bytes long; this file system takes names of at "
                f"most {name_max}")
    folder = Path(path).parent
    if not folder.is_dir():
        if not makes_folders:
            return f"the folder {folder} does not exist"
        folder = next(parent for parent in folder.parents if parent.is_dir())
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in the folder {folder}"
    if folder == Path(path).parent:  # the folder exists: try it (/proc passes os.access)
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            return f"cannot write in the folder {folder} ({exc.strerror or exc})"
    return None


def _longest_name(path: str | os.PathLike) -> int:
    """The longest file name the file system of path's nearest existing folder takes."""
    folder = next((p for p in Path(path).absolute().parents if p.is_dir()), Path("/"))
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not POSIX, or not said
        return 255


def _temporary_prefix(name: str, folder: Path) -> str:
    """`.NAME.` for the temporary file beside NAME, shortened so that mkstemp's name (8 random
    characters and `.tmp` after it) fits the file system: a name of 242 to 255 bytes was
    refused, 'File name too long', though the file itself could be written."""
    longest = _longest_name(folder / name) - 12
    while len(os.fsencode(f".{name}.")) > longest and name:
        name = name[:-1]
    return f".{name}."


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    blocking = file_where_a_folder_should_be(path)
    if blocking is not None:
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(blocking))
    if not path.parent.is_dir():  # named, not the temporary file's name mkstemp would give
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path.parent))
    if path.exists() and not path.is_file():
        # The rename would replace a device (/dev/null) or a socket with a plain file.
        raise OSError(errno.EINVAL, "not a regular file; refusing to replace it", str(path))
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=_temporary_prefix(
            path.name, path.parent), suffix=".tmp")
    except OSError as exc:  # named as the user's file, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        # Also on KeyboardInterrupt: the temporary file must not outlive the attempt.
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename in (None, tmp_name):
            # A full disk: write() and fsync() raise ENOSPC with no file name at all, so the
            # message said only "No space left on device"; name the file the user asked for.
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    _fsync_folder(path.parent)


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not every platform lets a folder be opened.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json_text(obj, indent=2) + "\n")


def json_text(obj, indent: int | None = None) -> str:
    """obj as JSON that UTF-8 can write: kanji as themselves, and where a path's name is not
    UTF-8 (café.txt from a Latin-1 system; any non-ASCII name under LC_ALL=C with Python's
    UTF-8 mode off), the whole in \\u escapes. Python holds such a name as lone surrogates,
    which UTF-8 cannot write (`train --data` of one ended in a traceback, leaving an empty run
    folder) or which went out as the raw bytes (`eval --json`, a file json.load refused);
    as escapes JSON keeps them, and reading gives back the same path."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, indent=indent)
    return text


def atomic_save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_text(path: str | os.PathLike, limit: int = 1 << 16) -> dict[str, str] | None:
    """The tEXt entries of a PNG file, read up to its image data (not the whole of what may be a
    large file of the user's), or None if the file is not a PNG image."""
    with open(path, "rb") as f:
        head = f.read(limit)
    if not head.startswith(PNG_SIGNATURE):
        return None
    found, pos = {}, len(PNG_SIGNATURE)
    while pos + 8 <= len(head):
        length, kind = int.from_bytes(head[pos:pos + 4], "big"), head[pos + 4:pos + 8]
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"tEXt":
            key, _, value = head[pos + 8:pos + 8 + length].partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        pos += 12 + length
    return found
