"""Kombu's Redis transport, reusing one Redis client per channel.

Stock kombu builds a new `redis.Redis` client for every published message; with redis-py 8 that
construction costs as much CPU as the LPUSH itself, on the webhook's hot path. The client is
thread-safe and shares the channel's connection pool, so one per channel serves every command.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client = None

    @contextmanager
    def conn_or_acquire(self, client=None) -> Iterator:
        if client:
            yield client
            return
        if self._shared_client is None or self._shared_client.connection_pool is not self.pool:
            self._shared_client = self._create_client()
        yield self._shared_client


class Transport(redis.Transport):
    Channel = Channel
