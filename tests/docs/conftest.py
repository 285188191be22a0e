"""The redis tests' private servers, for the live check of the metrics reference."""

from tests.redis.conftest import server_factory

__all__ = ["server_factory"]
