"""A file read at start and again on reload; a reload that fails keeps the version in use.

postgres_exporter's ``--config.file``, its queries file and redis_exporter's password file
all behave so: a broken edit is logged and counted, and the exporter goes on with what it
had. ``metrics`` gives ``<prefix>_config_last_reload_successful`` and
``..._success_timestamp_seconds`` as upstream's config packages do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from exporters.core.flags import ConfigError
from exporters.core.metrics import GaugeFamily, Metric

T = TypeVar("T")


class ReloadableFile(Generic[T]):
    """``load(path)`` at start (an error stops the start) and on every ``reload()``.

    ``required=False``: a file that cannot be loaded at start is logged and ``default`` used,
    with ``..._last_reload_successful 0`` (postgres_exporter starts so without its config file).
    """

    def __init__(
        self,
        path: str,
        load: Callable[[str], T],
        logger: logging.Logger,
        what: str = "configuration file",
        clock: Callable[[], float] = time.time,
        required: bool = True,
        default: T | None = None,
    ) -> None:
        self.path = path
        self._load = load
        self.logger = logger
        self.what = what
        self.clock = clock
        self._lock = threading.Lock()
        self.last_success = True
        self.last_success_time = clock()
        try:
            self._value = load(path)
        except (ConfigError, ValueError, OSError) as err:
            if required or default is None:
                raise
            self._value = default
            self.last_success, self.last_success_time = False, 0.0
            self.logger.warning(f"error loading {what}", extra={"file": path, "err": str(err)})

    @property
    def value(self) -> T:
        with self._lock:
            return self._value

    def reload(self) -> bool:
        """Load the file again; on failure keep the current version, log it and return False."""
        try:
            value = self._load(self.path)
        except (ConfigError, ValueError, OSError) as err:
            with self._lock:
                self.last_success = False
            self.logger.error(f"error reloading {self.what}, keeping the previous version",
                              extra={"file": self.path, "err": str(err)})
            return False
        with self._lock:
            self._value = value
            self.last_success = True
            self.last_success_time = self.clock()
        self.logger.info(f"reloaded {self.what}", extra={"file": self.path})
        return True

    def metrics(self, prefix: str, subject: str) -> list[Metric]:
        """``<prefix>_config_last_reload_successful`` and ``..._success_timestamp_seconds``."""
        with self._lock:
            success, when = self.last_success, self.last_success_time
        return [
            GaugeFamily(f"{prefix}_config_last_reload_successful", f"{subject} config loaded successfully.",
                        value=1.0 if success else 0.0),
            GaugeFamily(f"{prefix}_config_last_reload_success_timestamp_seconds",
                        "Timestamp of the last successful configuration reload.", value=when),
        ]
