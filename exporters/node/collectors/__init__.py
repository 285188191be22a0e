"""One module per node collector; each defines ``SPEC``, a ``CollectorSpec[NodeContext]``.

The collector table, ``exporters.node.collector_table``, is generated from these modules'
``SPEC`` (``python -m tests.node.collector_table --write``): the start builds the command
line from it and imports the modules of the enabled collectors only (importing this package
registers nothing). Names follow the collector's: module ``netdev`` (but ``os_release``, ``clock``,
``proc_stat`` and ``proc_zoneinfo`` for os, time, stat and zoneinfo, which would shadow the
standard library's modules), class
``NetdevCollector`` and options ``NetdevOptions`` (the name in CamelCase: ``udp_queues`` ->
``UdpQueues``). ``SPEC.factory`` is the class when the context alone builds it, else the
module's ``build(context)``. Modules starting with ``_`` are helpers shared by collectors.
"""
