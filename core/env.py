"""Tiny helpers that read settings from the environment, and the `.env` file that may fill it."""

import os
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_ENV_LINE = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)")


class EnvFileError(ValueError):
    pass


def _env_value(raw: str, where: str) -> str:
    """A value as written: 'single' or "double" quotes keep everything inside (no escapes, no expansion);
    unquoted, a `#` after whitespace starts a comment."""
    if raw[:1] in ("'", '"'):
        end = raw.find(raw[0], 1)
        rest = raw[end + 1 :].strip() if end > 0 else "?"
        if end < 0 or (rest and not rest.startswith("#")):
            raise EnvFileError(f"{where}: the quote that starts the value is not closed at the end of it.")
        return raw[1:end]
    return re.split(r"\s#", raw, maxsplit=1)[0].strip()


def env_file_load(default: Path | str) -> list[str]:
    """Put the `NAME=value` lines of the .env file into os.environ before settings are read.

    The file is `LABELSITE_ENV_FILE` if set (empty: read none), else `default`; a missing file is no error.
    Variables the process already has win, so a real environment always overrides the file. Lines may start
    with `export `; blank lines and `#` comments are skipped; a line of any other shape stops the start with
    its line number. Returns the names it set.
    """
    path = os.environ.get("LABELSITE_ENV_FILE", str(default))
    if not path or not os.path.isfile(path):
        return []
    found = {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.fullmatch(line)
        if not match:
            raise EnvFileError(f"{path} line {number}: expected NAME=value.")
        found[match[1]] = _env_value(match[2], f"{path} line {number}")
    added = [name for name in found if name not in os.environ]
    for name in added:
        os.environ[name] = found[name]
    return added


def _read(name: str, old: str | None) -> str | None:
    """The variable's value; an old name still set is read, with a warning, for one release."""
    value = os.environ.get(name)
    if value is None and old and old in os.environ:
        warnings.warn(
            f"The environment variable {old} is deprecated and will be ignored from the next release: "
            f"set {name} instead.",
            FutureWarning,
            stacklevel=3,
        )
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
