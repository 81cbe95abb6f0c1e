"""Tiny helpers that read settings from the environment."""

import os
import warnings
from urllib.parse import parse_qs, unquote, urlsplit


def _read(name: str, old: str | None) -> str | None:
    """The variable's value; an old name still set is read, with a warning, for one release."""
    value = os.environ.get(name)
    if value is None and old and old in os.environ:
        warnings.warn(f"The environment variable {old} is deprecated and will be ignored from the next release: "
                      f"set {name} instead.", FutureWarning, stacklevel=3)
        value = os.environ[old]
    return value


def env_str(name: str, default: str = "", *, old: str | None = None) -> str:
    value = _read(name, old)
    return default if value is None else value


def env_bool(name: str, default: bool = False, *, old: str | None = None) -> bool:
    value = _read(name, old)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int, *, old: str | None = None) -> int:
    value = _read(name, old)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: list[str] | None = None, *, old: str | None = None) -> list[str]:
    value = _read(name, old)
    if value is None:
        return list(default or [])
    return [part.strip() for part in value.split(",") if part.strip()]


def database_from_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name?opt=v` or `sqlite:///path` into DATABASES['default']."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:] if parts.path.startswith("//") else parts.path),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, **options},
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("LABELSITE_DATABASE_CONN_MAX_AGE", 60, old="DATABASE_CONN_MAX_AGE"),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ValueError(f"DATABASE_URL scheme {scheme!r} is not supported (use postgres:// or sqlite://)")


def cache_from_url(url: str, default_location: str) -> dict:
    """`redis://host:6379/1`, `locmem://`, `file:///path` (default: a file cache in the data folder)."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": default_location}
    scheme = urlsplit(url).scheme.lower()
    if scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if scheme == "file":
        return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": urlsplit(url).path}
    raise ValueError(f"CACHE_URL scheme {scheme!r} is not supported (use redis://, locmem:// or file://)")
