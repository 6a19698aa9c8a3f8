"""Shared fixtures. The PostgreSQL server for the store tests lives in tests/pgserver.py."""

from __future__ import annotations

import pytest

from pgserver import PostgresServer, start_server


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """A PostgreSQL server started for this test session (see tests/pgserver.py)."""
    yield from start_server()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A URL to a fresh, empty database on the session's server, dropped afterwards."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
