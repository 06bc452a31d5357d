"""The shared cache: Django's Redis cache, which lets a request through when Redis is down.

The cache holds only what may be lost: today the API's token throttle (10 a minute per
address). With Redis stopped, the platform must go on working (issue #8: submitting and
approving work while Redis is down, tasks wait in the outbox), so a cache error is logged and
read as a miss instead of failing the request: `get` answers its default, writes do nothing.
While Redis is down the token throttle therefore counts nothing; failed logins are still
locked out by django-axes, whose counts are in the database.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger("procurement.cache")


def _unavailable(operation: str, error: Exception) -> None:
    logger.warning(
        "cache unavailable (%s): %s; answering as a miss",
        operation,
        error,
        extra={"event": "cache_unavailable"},
    )


class ResilientRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as error:
            _unavailable("get", error)
            return default

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        try:
            return super().get_many(keys, version)
        except RedisError as error:
            _unavailable("get_many", error)
            return {}

    def has_key(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except RedisError as error:
            _unavailable("has_key", error)
            return False

    def set(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as error:
            _unavailable("set", error)

    def add(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except RedisError as error:
            _unavailable("add", error)
            return False

    def set_many(self, data: Any, timeout: Any = 300, version: int | None = None) -> list[Any]:
        try:
            return super().set_many(data, timeout, version)
        except RedisError as error:
            _unavailable("set_many", error)
            return list(data)

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except RedisError as error:
            _unavailable("delete", error)
            return False
