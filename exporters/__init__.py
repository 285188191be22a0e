"""Pure-Python replacements for node_exporter, postgres_exporter and redis_exporter."""

__version__ = "0.1.0"
