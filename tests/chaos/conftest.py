import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _fresh_connection_pool():
    """Each chaos test starts with this process's connection pool empty: the threads of earlier tests
    (bot loops, live servers, processing threads) may still hold pooled connections, and a test that
    terminates every backend and counts on a free connection must not depend on what ran before it."""
    if connection.vendor == "postgresql":
        connection.close()
        connection.close_pool()
    yield
