"""postgres_exporter replacement."""
