"""API keys: made once, shown once, stored only as a hash (``provenance keys create|list|revoke``).

Kept in ``<data_dir>/api-keys.json`` (the embedded default), or in Redis when the deployment has
one (``RedisKeyStore``: every API process sees a new or revoked key within ``REFRESH_S``). A key is
256 random bits, so one SHA-256 is enough to store it: a slow password hash protects guessable
secrets, and nobody guesses 256 bits. Lookups compare hashes, so the token never sits in memory
longer than the request that carries it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from service.pipeline.streams import RedisNames

if TYPE_CHECKING:
    import redis
    import redis.asyncio

PREFIX = "pvk_"
FILE_NAME = "api-keys.json"
REFRESH_S = 2.0


class KeyStoreError(Exception):
    """The key file cannot be read or written; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class KeyStore:
    """The API keys of one data folder; every change rewrites the file atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME
        self._by_hash: dict[str, ApiKey] = {}
        self._mtime: float | None = None

    def all_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        return sorted(self._load().values(), key=lambda k: k.created_at)

    def create(self, name: str) -> tuple[ApiKey, str]:
        """A new key and its token (shown to the caller once, never stored)."""
        token = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=secrets.token_hex(4),
            name=name,
            sha256=_hash(token),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        keys = dict(self._load())
        keys[key.sha256] = key
        self._save(keys)
        return key, token

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key with this id (it stays listed, marked revoked)."""
        keys = dict(self._load())
        for digest, key in keys.items():
            if key.id == key_id:
                revoked = ApiKey(
                    key.id,
                    key.name,
                    key.sha256,
                    key.created_at,
                    key.revoked_at or datetime.now(UTC).isoformat(timespec="seconds"),
                )
                keys[digest] = revoked
                self._save(keys)
                return revoked
        raise KeyStoreError(f"no key with id {key_id!r}")

    def check(self, token: str) -> ApiKey | None:
        """The active key this token is, or None. Re-reads the file when it changed (a key revoked
        by ``provenance keys revoke`` stops working without a restart)."""
        key = self._load().get(_hash(token))
        return key if key is not None and key.active else None

    def _load(self) -> dict[str, ApiKey]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._by_hash, self._mtime = {}, None
            return self._by_hash
        if mtime != self._mtime:
            try:
                rows = json.loads(self.path.read_text("utf-8"))["keys"]
                self._by_hash = {row["sha256"]: ApiKey(**row) for row in rows}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise KeyStoreError(f"{self.path}: unreadable key file ({exc})") from exc
            self._mtime = mtime
        return self._by_hash  # read only: create and revoke copy it before changing it

    def _save(self, keys: dict[str, ApiKey]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"keys": [asdict(k) for k in keys.values()]}, handle, indent=1)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise KeyStoreError(f"{self.path}: cannot write ({exc.strerror or exc})") from exc
        self._by_hash, self._mtime = dict(keys), None


def _rows(raw: dict[Any, Any]) -> dict[str, ApiKey]:
    keys = {}
    for value in raw.values():
        try:
            key = ApiKey(**json.loads(value))
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"unreadable key in Redis ({exc})") from exc
        keys[key.sha256] = key
    return keys


class RedisKeyStore(KeyStore):
    """The API keys of a deployment, in the Redis hash ``<prefix>:apikeys`` (field: the key's hash).

    ``provenance keys`` changes them through a blocking client; each API process checks requests
    against a snapshot that ``refresh`` renews every ``REFRESH_S`` (a lookup per request would put a
    Redis round trip on the hot path), so a revoked key stops working within that time.
    """

    def __init__(self, names: RedisNames, client: redis.Redis | None = None) -> None:
        self.path = Path(names.api_keys)
        self._hash_key = names.api_keys
        self._client = client
        self._by_hash = {}
        self._mtime = None

    def _load(self) -> dict[str, ApiKey]:
        if self._client is None:
            return self._by_hash
        try:
            raw: Any = self._client.hgetall(self._hash_key)
        except (RedisError, OSError) as exc:
            raise KeyStoreError(f"cannot read the keys from Redis ({exc})") from exc
        self._by_hash = _rows(raw)
        return self._by_hash

    def _save(self, keys: dict[str, ApiKey]) -> None:
        if self._client is None:
            raise KeyStoreError("this key store only reads (an API process)")
        rows: dict[Any, Any] = {digest: json.dumps(asdict(key)) for digest, key in keys.items()}
        try:
            self._client.hset(self._hash_key, mapping=rows)  # never deletes: concurrent creates both stay
        except (RedisError, OSError) as exc:
            raise KeyStoreError(f"cannot write the keys to Redis ({exc})") from exc
        self._by_hash = dict(keys)

    def close(self) -> None:
        """Close the blocking client, when this store has one (``provenance keys``)."""
        if self._client is not None:
            self._client.close()

    async def refresh(self, client: redis.asyncio.Redis) -> None:
        """Renew the snapshot the API checks requests against."""
        raw: Any = await client.hgetall(self._hash_key)
        self._by_hash = _rows(raw)
