"""Read a live stack's database from the test process (SQLite file or PostgreSQL)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from tests.support import LiveStack, wait_for


def rows(stack: LiveStack, sql: str, *params) -> list[dict]:
    url = stack.env.get("DATABASE_URL")
    if url:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
            return list(conn.execute(sql.replace("?", "%s"), params).fetchall())
    conn = sqlite3.connect(stack.var / "core4site.sqlite3", timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def job(stack: LiveStack, job_id: str) -> dict:
    found = rows(stack, "SELECT * FROM queue_job WHERE id = ?", job_id)
    assert found, f"job {job_id} not in the database"
    return found[0]


def wait_state(stack: LiveStack, job_id: str, *states: str, timeout: float = 60) -> dict:
    def reached():
        current = job(stack, job_id)
        return current if current["state"] in states else None

    return wait_for(reached, timeout, 0.1, f"job {job_id} did not reach {states}")


def as_time(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def enqueue(stack: LiveStack, name: str, *args: str) -> str:
    return stack.manage("enqueue", name, *args).stdout.strip().splitlines()[-1]
