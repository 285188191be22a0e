"""node_exporter replacement."""
