"""The job queue (Django app label ``queue``).

``from jobqueue import enqueue, get, kill, remove, restart`` is its public Python API
(``jobqueue/public.py``). The names are loaded on first use (module ``__getattr__``), so that
importing this package — as Django does for ``INSTALLED_APPS`` before the apps are ready —
loads no models.
"""

from __future__ import annotations

from typing import Any

__all__ = ["enqueue", "enqueue_job", "get", "kill", "remove", "restart"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from jobqueue import public

        return getattr(public, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
