"""A tiny FUSE filesystem whose statfs(2) does not answer, spoken directly over /dev/fuse.

It needs no libfuse: the test process opens ``/dev/fuse``, mounts it with mount(2) and
answers the kernel's requests itself. The root directory is empty; ``STATFS`` requests are
held until ``hold_seconds`` pass or the filesystem is unmounted, which is how a hung NFS
server looks to a node exporter. Every other request gets a harmless answer, so only
statfs hangs (a walk of the parent directory, ``ls`` or ``stat`` of the mount point still
work). Linux only, needs CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
import threading
import time
from pathlib import Path

IN_HEADER = struct.Struct("<IIQQIIII")  # len, opcode, unique, nodeid, uid, gid, pid, padding
OUT_HEADER = struct.Struct("<IiQ")  # len, error, unique

OP_LOOKUP = 1
OP_FORGET = 2
OP_GETATTR = 3
OP_STATFS = 17
OP_GETXATTR = 22
OP_INIT = 26
OP_OPENDIR = 27
OP_READDIR = 28
OP_RELEASEDIR = 29
OP_ACCESS = 34
OP_INTERRUPT = 36
OP_DESTROY = 38
OP_BATCH_FORGET = 42
NO_REPLY = {OP_FORGET, OP_BATCH_FORGET, OP_INTERRUPT}

MS_NOSUID = 2
MS_NODEV = 4
MNT_DETACH = 2


def fuse_available() -> str | None:
    """Why a FUSE mount cannot be made here, or None when it can."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is absent"
    if os.geteuid() != 0:
        return "mounting needs root (CAP_SYS_ADMIN)"
    try:
        with open("/proc/filesystems") as handle:
            if not any(line.split()[-1] == "fuse" for line in handle if line.strip()):
                return "the kernel has no fuse filesystem"
    except OSError as err:
        return f"/proc/filesystems unreadable: {err}"
    return None


def _root_attr() -> bytes:
    now = int(time.time())
    # fuse_attr: ino size blocks atime mtime ctime (u64), atimensec mtimensec ctimensec mode nlink uid gid
    # rdev blksize flags (u32)
    attr = struct.pack("<QQQQQQIIIIIIIIII", 1, 0, 0, now, now, now, 0, 0, 0, 0o040755, 2, 0, 0, 0, 4096, 0)
    return struct.pack("<QII", 1, 0, 0) + attr  # fuse_attr_out: attr_valid, attr_valid_nsec, dummy


def _statfs_answer() -> bytes:
    # fuse_kstatfs: blocks bfree bavail files ffree (u64), bsize namelen frsize padding spare[6] (u32)
    return struct.pack("<QQQQQIIII6I", 1000, 500, 400, 100, 50, 4096, 255, 4096, 0, *([0] * 6))


class HangingStatfsFS:
    """Mount at ``mount_point``; statfs there blocks for up to ``hold_seconds``."""

    def __init__(self, mount_point: Path, hold_seconds: float = 30.0) -> None:
        self.mount_point = mount_point
        self.hold_seconds = hold_seconds
        self.statfs_requests = 0
        self.statfs_pids: list[int] = []
        self._fd = -1
        self._stop = threading.Event()
        self._release = threading.Event()
        self._write_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

    def __enter__(self) -> HangingStatfsFS:
        self.mount()
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()

    def mount(self) -> None:
        self.mount_point.mkdir(parents=True, exist_ok=True)
        self._fd = os.open("/dev/fuse", os.O_RDWR)
        data = f"fd={self._fd},rootmode=40000,user_id=0,group_id=0".encode()
        rc = self._libc.mount(b"hangfs", str(self.mount_point).encode(), b"fuse.hangfs",
                              MS_NOSUID | MS_NODEV, data)
        if rc != 0:
            err = ctypes.get_errno()
            os.close(self._fd)
            raise OSError(err, f"mount fuse at {self.mount_point}: {os.strerror(err)}")
        reader = threading.Thread(target=self._serve, name="hangfs", daemon=True)
        reader.start()
        self._threads.append(reader)

    def unmount(self) -> None:
        self._release.set()
        self._libc.umount2(str(self.mount_point).encode(), MNT_DETACH)
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _reply(self, unique: int, error: int = 0, payload: bytes = b"") -> None:
        with self._write_lock:
            if self._fd < 0:
                return
            try:
                os.write(self._fd, OUT_HEADER.pack(OUT_HEADER.size + len(payload), -error, unique) + payload)
            except OSError:
                pass  # the request was interrupted or the connection is gone

    def _hold_statfs(self, unique: int) -> None:
        self._release.wait(self.hold_seconds)
        self._reply(unique, 0, _statfs_answer())

    def _serve(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            try:
                data = os.read(self._fd, 1 << 20 | 4096)
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                    continue
                return  # ENODEV: unmounted
            if len(data) < IN_HEADER.size:
                continue
            _, opcode, unique, _, _, _, pid, _ = IN_HEADER.unpack_from(data)
            if opcode == OP_STATFS:
                self.statfs_pids.append(pid)
            self._answer(opcode, unique, data[IN_HEADER.size:])

    def _answer(self, opcode: int, unique: int, body: bytes) -> None:
        if opcode in NO_REPLY:
            return
        if opcode == OP_INIT:
            _major, minor, max_readahead, _ = struct.unpack_from("<IIII", body)
            minor = min(minor, 31)
            # fuse_init_out: major minor max_readahead flags, max_background congestion_threshold (u16),
            # max_write time_gran (u32), max_pages map_alignment (u16), flags2 unused[7] (u32)
            payload = struct.pack("<IIIIHHIIHHI7I", 7, minor, max_readahead, 0, 16, 12, 65536, 1, 0, 0, 0,
                                  *([0] * 7))
            self._reply(unique, 0, payload)
        elif opcode == OP_GETATTR:
            self._reply(unique, 0, _root_attr())
        elif opcode == OP_STATFS:
            self.statfs_requests += 1
            holder = threading.Thread(target=self._hold_statfs, args=(unique,), daemon=True)
            holder.start()
            self._threads.append(holder)
        elif opcode == OP_LOOKUP:
            self._reply(unique, errno.ENOENT)
        elif opcode == OP_OPENDIR:
            self._reply(unique, 0, struct.pack("<QII", 1, 0, 0))  # fuse_open_out: fh, open_flags, padding
        elif opcode in (OP_READDIR,):
            self._reply(unique, 0, b"")
        elif opcode in (OP_RELEASEDIR, OP_ACCESS):
            self._reply(unique, 0)
        elif opcode == OP_GETXATTR:
            self._reply(unique, errno.ENODATA)
        elif opcode == OP_DESTROY:
            self._reply(unique, 0)
            self._stop.set()
        else:
            self._reply(unique, errno.ENOSYS)


CLONE_NEWNS = 0x00020000
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _private_mount_namespace() -> None:
    """Enter a new mount namespace whose mounts do not propagate to the host's."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNS): {os.strerror(err)}")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"make / private: {os.strerror(err)}")


def main(argv: list[str]) -> int:
    """``python -m tests.reliability.fusefs MOUNT_POINT REPORT HOLD -- COMMAND...``
    (or ``--probe DIR``: exit 0 if a private FUSE mount works here).

    Runs COMMAND in a private mount namespace where MOUNT_POINT is a hanging-statfs FUSE
    mount (so no other process on the host meets it). SIGTERM is passed on to COMMAND; when
    it has exited, REPORT gets "statfs_requests exit_seconds".
    """
    import signal
    import subprocess

    if argv[:1] == ["--probe"]:
        # can this process make a private mount namespace and mount FUSE in it?
        _private_mount_namespace()
        probe = HangingStatfsFS(Path(argv[1]), 0.0)
        probe.mount()
        probe.unmount()
        return 0
    split = argv.index("--")
    mount_point, report, hold = argv[:split]
    command = argv[split + 1:]
    _private_mount_namespace()
    fs = HangingStatfsFS(Path(mount_point), float(hold))
    fs.mount()
    child = subprocess.Popen(command)
    term_at: list[float] = []

    def forward(signum: int, _frame: object) -> None:
        term_at.append(time.monotonic())
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    exit_seconds = time.monotonic() - term_at[0] if term_at else -1.0
    Path(report).write_text(f"{fs.statfs_requests} {exit_seconds:.3f}\n")
    fs.unmount()
    return code


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
