"""PostgreSQL: a change of a switch (``pause``, ``pause:<project>``, ``halt``, a worker's
mode ``worker:<identifier>``) in ``Control`` is announced to the workers on their ``LISTEN``
channel with the payload ``control``, whoever writes it (API, CLI, admin, SQL): a worker reads
the switches again only then (and every tick), not before every pick. Other ``Control`` rows
(leases, the scheduler's bookmark, the metrics fold) announce nothing. SQLite has no
``NOTIFY``: its workers read the switches before every pick."""

from django.db import migrations

#: ``jobqueue.transitions.NOTIFY_CHANNEL``, as of this migration
CHANNEL = "core4_queue"

FORWARD = f"""
CREATE OR REPLACE FUNCTION core4_control_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('{CHANNEL}', 'control');
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        changed := OLD.key;
    ELSE
        changed := NEW.key;
    END IF;
    IF changed = 'pause' OR changed LIKE 'pause:%' OR changed = 'halt'
       OR changed LIKE 'worker:%' THEN
        PERFORM pg_notify('{CHANNEL}', 'control');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER queue_control_switch AFTER INSERT OR UPDATE OR DELETE ON queue_control
    FOR EACH ROW EXECUTE FUNCTION core4_control_changed();
CREATE TRIGGER queue_control_truncate AFTER TRUNCATE ON queue_control
    FOR EACH STATEMENT EXECUTE FUNCTION core4_control_changed();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS queue_control_truncate ON queue_control;
DROP TRIGGER IF EXISTS queue_control_switch ON queue_control;
DROP FUNCTION IF EXISTS core4_control_changed();
"""


def _run(schema_editor, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(sql)  # no parameters: its % are LIKE's


def forward(apps, schema_editor):
    _run(schema_editor, FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("queue", "0005_pick_order_index"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
