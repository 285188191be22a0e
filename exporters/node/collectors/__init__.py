"""One module per node collector; each defines ``SPEC``, a ``CollectorSpec[NodeContext]``.

The collector table is built by ``exporters.node.main.collector_specs()``, which lists
this package's modules (explicitly, at start-up; importing this package registers
nothing).
"""
