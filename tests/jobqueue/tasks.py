"""django.tasks functions of the test suite (registered through ``tests/settings.py``)."""

from __future__ import annotations

import os

from django_tasks import TaskContext, task


@task
def add(a: int, b: int = 0) -> int:
    """Adds two numbers."""
    print(f"add {a} + {b} in pid {os.getpid()}")
    return a + b


@task(priority=10)
def urgent(value: str) -> str:
    return value.upper()


@task
def fails(message: str) -> None:
    raise ValueError(message)


@task
def unserialisable() -> object:
    return object()


@task(takes_context=True)
def with_context(context: TaskContext, tag: str) -> dict:
    result = context.task_result
    print(f"context {result.id} attempt {context.attempt} status {result.status} tag {tag}")
    return {"id": result.id, "attempt": context.attempt, "tag": tag}


@task
async def coroutine(x: int) -> int:
    print(f"coroutine {x}")
    return x * 2
