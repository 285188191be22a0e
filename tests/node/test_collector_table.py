"""The collector table's conventions: one module, class, options class and factory name per collector."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys

import pytest

from exporters.core.collector import CollectorSpec
from exporters.node import collectors as collectors_pkg
from exporters.node import psutil_backend
from exporters.node.main import collector_specs

MODULES = {info.name: importlib.import_module(f"{collectors_pkg.__name__}.{info.name}")
           for info in pkgutil.iter_modules(collectors_pkg.__path__) if not info.name.startswith("_")}
# modules named otherwise: a module named after the collector would shadow the standard library's
RENAMED = {"os": "os_release", "time": "clock", "stat": "proc_stat", "zoneinfo": "proc_zoneinfo"}


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@pytest.mark.parametrize("spec", collector_specs(), ids=lambda spec: spec.name)
def test_names_follow_the_collector(spec: CollectorSpec[object]) -> None:
    module = MODULES[RENAMED.get(spec.name, spec.name)]
    assert module.SPEC is spec
    classes = {name for name, _ in inspect.getmembers(module, inspect.isclass)
               if name.endswith("Collector") and getattr(module, name).__module__ == module.__name__}
    assert classes == {camel(spec.name) + "Collector"}
    assert spec.factory in (getattr(module, camel(spec.name) + "Collector"), getattr(module, "build", None))
    assert spec.portable in (None, getattr(module, "build_portable", None))
    if spec.options is not None:
        assert dataclasses.is_dataclass(spec.options) and spec.options.__name__ == camel(spec.name) + "Options"
        assert all(f.metadata for f in dataclasses.fields(spec.options))  # every field is a flag


def test_no_module_shadows_the_standard_library() -> None:
    assert not set(MODULES) & set(sys.stdlib_module_names)


def test_psutil_collectors_import_no_collector_module() -> None:
    """The collectors name their psutil stand-ins (``SPEC.portable``), not the other way round."""
    source = inspect.getsource(psutil_backend)
    modules = re.findall(r"from exporters\.node\.collectors(?:\.(\w+))? import", source)
    assert modules and all(name.startswith("_") for name in modules)
