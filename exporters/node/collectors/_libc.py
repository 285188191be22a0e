"""The C library, for the system calls Python's os module does not wrap (adjtimex, statfs, uname's domainname)."""

from __future__ import annotations

import ctypes
import functools


@functools.cache
def libc() -> ctypes.CDLL:
    """libc, loaded once.

    The interpreter's own symbols include the C library's; ``find_library`` (which runs
    ``ldconfig`` in a subprocess) is asked only where they do not.
    """
    own = ctypes.CDLL(None, use_errno=True)
    if hasattr(own, "uname") and hasattr(own, "statfs"):
        return own
    from ctypes.util import find_library

    return ctypes.CDLL(find_library("c") or None, use_errno=True)
