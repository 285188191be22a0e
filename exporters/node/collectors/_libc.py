"""The C library, for the system calls Python's os module does not wrap (adjtimex, statfs, uname's domainname)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def libc() -> ctypes.CDLL:
    """libc, loaded once: ``find_library`` runs ``ldconfig`` in a subprocess, too slow for every scrape."""
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
