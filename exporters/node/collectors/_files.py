"""Reading host files as node_exporter's procfs/sysfs libraries do.

Text is decoded with ``errors="replace"`` unless a caller asks for the raw bytes
(``errors="surrogateescape"``) to apply Go's own invalid-UTF-8 rules later
(``_labels.without_invalid_utf8``): a label value that cannot be encoded would otherwise
fail the whole exposition.
"""

from __future__ import annotations

import errno
import glob
import os
import threading
from collections.abc import Collection

from exporters.node.collectors._strconv import go_parse_uint

# procfs' SysReadFile reads at most this many bytes (one read(2) call).
SYS_READ_LIMIT = 128


def read_text(path: str, errors: str = "replace") -> str:
    """The whole file as text, without newline translation.

    Raw ``read(2)`` calls, decoded once: half the cost of a text-mode ``open()`` for the
    small files a scrape reads by the hundred.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors)


def read_bytes(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of the file, the rest not read (Go's ``io.LimitReader``).

    ``open(path).read(limit)`` would have the buffer for ``limit`` bytes allocated first.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        size = 0
        while size < limit and (chunk := os.read(fd, min(65536, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_text_limited(path: str, limit: int, errors: str = "replace") -> str:
    """The whole file as text, or ValueError when it holds more than ``limit`` bytes (not read past it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        size = 0
        while size <= limit and (chunk := os.read(fd, min(65536, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise ValueError(f"{path}: more than {limit} bytes")
    return b"".join(chunks).decode("utf-8", errors)


def read_once(path: str, errors: str = "replace") -> str:
    """One ``read(2)`` of at most 128 bytes, untrimmed (node_exporter's hwmon ``sysReadFile``).

    A single raw read because some sysfs drivers answer EAGAIN forever to a buffered one.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, SYS_READ_LIMIT)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors=errors)


def sys_read_file(path: str, errors: str = "replace") -> str:
    """procfs ``util.SysReadFile``: ``read_once``, surrounding whitespace trimmed."""
    return read_once(path, errors).strip()


class HeldFiles:
    """sysfs attribute files kept open between scrapes, each read again from offset 0.

    sysfs produces an attribute's text anew on every read from offset 0, so a held
    descriptor answers what a fresh ``open`` would, for one syscall in place of three (an
    ``open`` of a sysfs path is the dearest of them). Holding is for pseudo-files only: a
    regular file replaced by a rename would go on reading its old content. A read error is
    the attribute's own (EINVAL of ``speed`` on a down link) and is raised with the
    descriptor kept; ENODEV (the device is gone) drops it and the path is opened afresh.
    At most ``limit`` descriptors are held; further files are read as ``read_once``.

    Two scrapes may read at once: a lock keeps a descriptor from being closed (and its
    number given to another file) between one thread's lookup and its read.
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fds)

    def read_once(self, path: str, errors: str = "replace") -> str:
        """``read_once`` of ``path`` through a held descriptor."""
        with self._lock:
            fd = self._fds.get(path)
            if fd is None:
                if len(self._fds) >= self.limit:
                    return read_once(path, errors)
                fd = os.open(path, os.O_RDONLY)
                self._fds[path] = fd
            try:
                data = os.pread(fd, SYS_READ_LIMIT, 0)
            except OSError as err:
                if err.errno != errno.ENODEV:
                    raise
                os.close(self._fds.pop(path))
                return read_once(path, errors)
        return data.decode("utf-8", errors=errors)

    def read_text(self, path: str, errors: str = "replace") -> str:
        """``read_text`` of a procfs or sysfs file through a held descriptor.

        The descriptor is taken out of the table for the read, so that two threads never
        share one and a read that hangs holds up no other file. A read error (a procfs entry
        removed under the descriptor answers EIO) drops it and the path is read afresh,
        so the error or "no such file" is the one a fresh open finds.
        """
        with self._lock:
            fd = self._fds.pop(path, None)
        if fd is not None:
            try:
                data = _pread_all(fd)
            except OSError:
                os.close(fd)
                return read_text(path, errors)
        else:
            fd = os.open(path, os.O_RDONLY)
            try:
                data = _pread_all(fd)
            except BaseException:
                os.close(fd)
                raise
        with self._lock:
            if path in self._fds or len(self._fds) >= self.limit:
                os.close(fd)  # another thread put its own back meanwhile, or no room
            else:
                self._fds[path] = fd
        return data.decode("utf-8", errors)

    def read_uint(self, path: str) -> int:
        """``read_uint_file`` through a held descriptor."""
        return go_parse_uint(self.read_text(path).strip())

    def forget(self, prefix: str) -> None:
        """Close the descriptors of ``prefix`` and every path under it."""
        with self._lock:
            for path in [p for p in self._fds if p == prefix or p.startswith(prefix + os.sep)]:
                os.close(self._fds.pop(path))

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()


def _pread_all(fd: int) -> bytes:
    """The file of ``fd`` from offset 0 to its end (a procfs or sysfs file: made anew at offset 0)."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_uint_file(path: str) -> int:
    """node_exporter's ``readUintFromFile``: the file's trimmed text as a base-10 uint64."""
    return go_parse_uint(read_text(path).strip())


def list_dir(path: str) -> list[str]:
    """Directory entries sorted by name, as Go's ``os.ReadDir`` returns them."""
    return sorted(os.listdir(path))


def regular_files(directory: str) -> list[str]:
    """Names of the regular files (not symlinks, not directories) in ``directory``, sorted."""
    with os.scandir(directory) as entries:
        return sorted(e.name for e in entries if e.is_file(follow_symlinks=False))


def read_attribute_files(
    directory: str, skipped_errnos: Collection[int], only: Collection[str] | None = None
) -> dict[str, str]:
    """Every regular file of a sysfs directory (``sys_read_file``, raw bytes kept as surrogates).

    An attribute the driver refuses with one of ``skipped_errnos`` is left out, as procfs's
    sysfs readers do; any other error fails the read. With ``only``, files of other names
    are not read at all (their content would be discarded).
    """
    values = {}
    for name in regular_files(directory):
        if only is not None and name not in only:
            continue
        try:
            values[name] = sys_read_file(os.path.join(directory, name), errors="surrogateescape")
        except OSError as err:
            if err.errno in skipped_errnos:
                continue
            raise
    return values


def glob_sorted(pattern: str) -> list[str]:
    """Go's ``filepath.Glob``: matches in lexical order, errors ignored."""
    return sorted(glob.glob(pattern, include_hidden=True))


def go_join(*parts: str) -> str:
    """Go's ``filepath.Join``: join, then clean (no ``//``, no ``./``, no trailing ``/``)."""
    joined = os.path.join(*[p for p in parts if p])
    return os.path.normpath(joined) if joined else ""
