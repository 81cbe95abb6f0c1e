"""Encryption at rest for datastore secrets: Fernet with rotatable keys (the first encrypts, all decrypt)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


def _fernet() -> MultiFernet:
    return MultiFernet(
        [Fernet(key.encode() if isinstance(key, str) else key) for key in settings.LABELSITE_ENCRYPTION_KEYS]
    )


@sensitive_variables("value")
def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """The plain secret; ValueError (without the token) when no configured key opens it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("The stored secret cannot be decrypted with the configured keys.") from None


def rotate(token: str) -> str:
    """Re-encrypt under the current first key (after adding a new key in front)."""
    return _fernet().rotate(token.encode()).decode() if token else ""
