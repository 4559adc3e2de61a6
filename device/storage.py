"""The unit's memory: named append-only files behind one small interface.

The firmware touches storage only through :class:`Storage`, whose mutating calls
(``append``, ``sync``, ``truncate``, ``replace``) are the unit's *write points*.  Two
implementations:

* :class:`DirStorage` -- real files in a directory, ``fsync`` on ``sync``; what the CLI
  and the benchmarks use.
* :class:`SimStorage` -- memory that models a disk with a page cache.  Each file holds
  the bytes made durable by ``sync`` and the bytes written since.  It numbers every
  write point, can cut the power before any one of them (raising
  :class:`~device.errors.PowerCut`), and :meth:`SimStorage.crash` gives the memory as it
  is after the cut: the durable bytes plus *any chosen prefix* of the bytes written
  since the last sync -- which covers a torn write at every byte offset.  It can also
  run out of space.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from device.errors import PowerCut, StorageFull


class Storage(Protocol):
    """What the firmware may do with its memory."""

    def read(self, name: str) -> bytes:
        """The file's bytes as the unit sees them (empty if it does not exist)."""
        ...

    def append(self, name: str, data: bytes) -> None:
        """Write at the end; not durable until :meth:`sync`.  Raises StorageFull with
        nothing written when the memory has no room."""
        ...

    def sync(self, name: str) -> None:
        """Make every byte appended so far durable (fsync)."""
        ...

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to ``size`` bytes, durably."""
        ...

    def replace(self, name: str, data: bytes) -> None:
        """Write a whole file atomically and durably (write, fsync, rename)."""
        ...

    def where(self, name: str) -> str:
        """Where the file lives, for messages to a technician."""
        ...


class DirStorage:
    """Files in one directory; appends go through kept-open descriptors."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._fds: dict[str, int] = {}

    def _path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return b""

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            path = self._path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._fds[name] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return fd

    def append(self, name: str, data: bytes) -> None:
        fd = self._fd(name)
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.ftruncate(fd, start)  # leave no partial record behind
            raise StorageFull(f"no space left for {self.where(name)}") from None

    def sync(self, name: str) -> None:
        os.fdatasync(self._fd(name))

    def truncate(self, name: str, size: int) -> None:
        fd = self._fd(name)
        os.ftruncate(fd, size)
        os.fsync(fd)

    def replace(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        self._close(name)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def where(self, name: str) -> str:
        return str(self._path(name))

    def _close(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for name in list(self._fds):
            self._close(name)


@dataclass
class _SimFile:
    durable: bytearray = field(default_factory=bytearray)
    pending: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True, slots=True)
class WritePoint:
    """One numbered mutating call, as :class:`SimStorage` saw it."""

    number: int
    op: str
    name: str
    size: int


class SimStorage:
    """A simulated disk with a page cache, numbered write points and fault injection.

    ``cut_before`` raises PowerCut before write point number ``cut_before`` (counting
    from 0) takes effect.  ``capacity`` bounds the total bytes of all files.
    ``observer`` is called with each write point before it runs: tests use it to note
    what the unit had reported at that moment.
    """

    def __init__(
        self,
        files: Mapping[str, bytes] | None = None,
        *,
        cut_before: int | None = None,
        capacity: int | None = None,
        observer: Callable[[WritePoint], None] | None = None,
    ) -> None:
        self.files: dict[str, _SimFile] = {
            name: _SimFile(bytearray(data)) for name, data in (files or {}).items()
        }
        self.cut_before = cut_before
        self.capacity = capacity
        self.observer = observer
        self.writes = 0

    def _point(self, op: str, name: str, size: int) -> _SimFile:
        point = WritePoint(self.writes, op, name, size)
        if self.observer is not None:
            self.observer(point)
        if self.cut_before is not None and self.writes >= self.cut_before:
            raise PowerCut(f"power cut before write point {self.writes} ({op} {name})")
        self.writes += 1
        return self.files.setdefault(name, _SimFile())

    def read(self, name: str) -> bytes:
        f = self.files.get(name)
        return bytes(f.durable + f.pending) if f else b""

    def used(self) -> int:
        return sum(len(f.durable) + len(f.pending) for f in self.files.values())

    def append(self, name: str, data: bytes) -> None:
        if self.capacity is not None and self.used() + len(data) > self.capacity:
            raise StorageFull(f"no space left for {name} ({self.capacity} bytes in all)")
        self._point("append", name, len(data)).pending += data

    def sync(self, name: str) -> None:
        f = self._point("sync", name, 0)
        f.durable += f.pending
        f.pending.clear()

    def truncate(self, name: str, size: int) -> None:
        f = self._point("truncate", name, size)
        f.durable = (f.durable + f.pending)[:size]
        f.pending = bytearray()

    def replace(self, name: str, data: bytes) -> None:
        f = self._point("replace", name, len(data))
        f.durable = bytearray(data)
        f.pending = bytearray()

    def where(self, name: str) -> str:
        return f"sim:{name}"

    def unsynced(self, name: str) -> int:
        """Bytes of ``name`` written since its last sync (what a cut may tear)."""
        f = self.files.get(name)
        return len(f.pending) if f else 0

    def crash(self, keep: Mapping[str, int] | None = None) -> SimStorage:
        """The memory after a power cut, as a fresh storage without faults.

        Each file keeps its durable bytes plus the first ``keep[name]`` bytes written
        since its last sync (all of them when the name is not in ``keep``).
        """
        keep = keep or {}
        survived = {
            name: bytes(f.durable + f.pending[: keep.get(name, len(f.pending))])
            for name, f in self.files.items()
        }
        return SimStorage(survived)
