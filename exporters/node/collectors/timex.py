"""timex: the kernel clock discipline state from adjtimex(2) (``node_timex_*``).

adjtimex is called with ``modes = 0``: read only. The struct is the Linux ``struct timex``
(include/uapi/linux/timex.h); ``long`` fields follow the platform's C ``long``.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable, Iterable
from typing import NamedTuple

from exporters.core.collector import CollectorSpec, NoDataError
from exporters.core.metrics import CounterFamily, GaugeFamily, Metric
from exporters.node.collectors._libc import libc
from exporters.node.context import NodeContext

NAME = "timex"
TIME_ERROR = 5  # clock not synchronized
STA_NANO = 0x2000  # offsets and jitter are in ns, not us
NANOSECONDS = 1e9
MICROSECONDS = 1e6
PPM16FRAC = 1000000.0 * 65536.0  # scaled ppm: 16-bit binary fraction


class _Timeval(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long))


class Timex(ctypes.Structure):
    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    )


class TimexState(NamedTuple):
    state: int
    timex: Timex


def read_timex() -> TimexState:
    """adjtimex(2) with modes 0. Raises OSError on failure."""
    buf = Timex()
    state = int(libc().adjtimex(ctypes.byref(buf)))
    if state < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return TimexState(state, buf)


# metric suffix -> (help, counter?, value from (state, timex, divisor))
FIELDS: tuple[tuple[str, str, bool, Callable[[TimexState, float], float]], ...] = (
    ("sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", False,
     lambda s, d: 0.0 if s.state == TIME_ERROR else 1.0),
    ("offset_seconds", "Time offset in between local system and reference clock.", False,
     lambda s, d: s.timex.offset / d),
    ("frequency_adjustment_ratio", "Local clock frequency adjustment.", False,
     lambda s, d: 1 + s.timex.freq / PPM16FRAC),
    ("maxerror_seconds", "Maximum error in seconds.", False, lambda s, d: s.timex.maxerror / MICROSECONDS),
    ("estimated_error_seconds", "Estimated error in seconds.", False, lambda s, d: s.timex.esterror / MICROSECONDS),
    ("status", "Value of the status array bits.", False, lambda s, d: float(s.timex.status)),
    ("loop_time_constant", "Phase-locked loop time constant.", False, lambda s, d: float(s.timex.constant)),
    ("tick_seconds", "Seconds between clock ticks.", False, lambda s, d: s.timex.tick / MICROSECONDS),
    ("pps_frequency_hertz", "Pulse per second frequency.", False, lambda s, d: s.timex.ppsfreq / PPM16FRAC),
    ("pps_jitter_seconds", "Pulse per second jitter.", False, lambda s, d: s.timex.jitter / d),
    ("pps_shift_seconds", "Pulse per second interval duration.", False, lambda s, d: float(s.timex.shift)),
    ("pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", False,
     lambda s, d: s.timex.stabil / PPM16FRAC),
    ("pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", True,
     lambda s, d: float(s.timex.jitcnt)),
    ("pps_calibration_total", "Pulse per second count of calibration intervals.", True,
     lambda s, d: float(s.timex.calcnt)),
    ("pps_error_total", "Pulse per second count of calibration errors.", True, lambda s, d: float(s.timex.errcnt)),
    ("pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", True,
     lambda s, d: float(s.timex.stbcnt)),
    ("tai_offset_seconds", "International Atomic Time (TAI) offset.", False, lambda s, d: float(s.timex.tai)),
)


def timex_metrics(state: TimexState) -> list[Metric]:
    divisor = NANOSECONDS if state.timex.status & STA_NANO else MICROSECONDS
    out: list[Metric] = []
    for suffix, documentation, counter, value in FIELDS:
        name = f"node_timex_{suffix}"
        if counter:
            out.append(CounterFamily(name.removesuffix("_total"), documentation, value=value(state, divisor)))
        else:
            out.append(GaugeFamily(name, documentation, value=value(state, divisor)))
    return out


class TimexCollector:
    def __init__(self, context: NodeContext, reader: Callable[[], TimexState] = read_timex) -> None:
        self.reader = reader

    def collect(self) -> Iterable[Metric]:
        try:
            state = self.reader()
        except PermissionError as err:
            raise NoDataError(str(err)) from err
        except OSError as err:
            if err.errno == errno.EPERM:
                raise NoDataError(str(err)) from err
            raise OSError(err.errno, f"failed to retrieve adjtimex stats: {err.strerror}") from err
        return timex_metrics(state)


SPEC: CollectorSpec[NodeContext] = CollectorSpec(
    name=NAME, factory=TimexCollector, enabled_by_default=True, help="Exposes selected adjtimex(2) system call stats.",
    source="adjtimex(2), read only",
)
