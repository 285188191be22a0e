"""The redis_exporter replacement: INFO mapping tables, key checks, multi-target scrapes."""
