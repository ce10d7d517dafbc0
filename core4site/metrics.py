"""``GET /metrics``: Prometheus metrics of the queue, the workers and the server processes.

Where each figure comes from (README "Monitoring"):

* **From the database at scrape time** — the truth shared by every process on every host,
  so any server process answers the same: jobs per state (the ``QueueCount`` counters, ≤ 8
  rows), live workers and their slots (``WorkerRecord``, one row per worker), and the queue
  history folded from the ``Event`` outbox: transitions per event name, run time of completed
  jobs per job name, pick-up latency (enqueue → first pick). The fold (:func:`fold`) reads only
  the queue events after a cursor kept in the database (``Control`` row ``metrics``), at most
  ``CORE4_METRICS_EVENT_BATCH`` of them per scrape through the ``(channel, id)`` index — never
  a scan of the event table — and stores the running totals with the new cursor, so the
  counters are cluster-wide, survive restarts and count transitions made by any process
  (servers, workers, CLI, jobs). Events older than the first scrape are not counted.
* **Process metrics** (prometheus_client): HTTP requests by status (:class:`RequestMetrics`),
  open event sockets and commit → socket latency (:mod:`events.metrics`). With
  ``CORE4_METRICS_DIR`` every server process of the host writes them to that directory and
  each scrape sums them (multiprocess mode); without it they are the answering process's own.

Access: a user with ``cop`` (any credential the API takes), or ``Authorization: Bearer
<CORE4_METRICS_TOKEN>``; anything else is a 401/403 in core4's envelope. Not part of the
core4 API: excluded from the OpenAPI schema on purpose (its reply is Prometheus text).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from datetime import datetime
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from accounts.api_permissions import access_of
from core4api.ids import utcnow
from core4api.views import Core4APIView
from events.models import QUEUE, Event
from jobqueue.models import Control, Job, QueueCount, WorkerRecord
from jobqueue.states import COMPLETE_JOB, EVENTS, REQUEST_START_JOB, UNFINISHED

#: The ``Control`` row holding the folded totals and the event cursor.
KEY = "metrics"
RUNTIME_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
PICKUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
#: job ids per ``pk IN (…)`` lookup while folding
LOOKUP_CHUNK = 2000


# --- process metrics ---------------------------------------------------------------------------
HTTP_REQUESTS = Counter("core4_http_requests", "HTTP requests answered, by status code", ["status"])


class RequestMetrics:
    """Middleware (first in ``MIDDLEWARE``): counts every HTTP response by status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        HTTP_REQUESTS.labels(str(response.status_code)).inc()
        return response


# --- the folded queue history -----------------------------------------------------------------
def _histogram(buckets: tuple) -> dict:
    return {"b": [0] * (len(buckets) + 1), "s": 0.0, "n": 0}


def _observe(histogram: dict, buckets: tuple, value: float) -> None:
    index = next((i for i, bound in enumerate(buckets) if value <= bound), len(buckets))
    histogram["b"][index] += 1
    histogram["s"] += value
    histogram["n"] += 1


def _fresh(cursor: int) -> dict:
    return {
        "cursor": cursor,
        "since": utcnow().isoformat(),
        "transitions": {},
        "runtime": {},
        "pickup": _histogram(PICKUP_BUCKETS),
    }


def _fold_events(totals: dict, rows: list[tuple]) -> None:
    """Add ``rows`` (``id, name, created, data`` of queue events, in id order) to ``totals``."""
    completed: list[str] = []
    picked: dict[str, datetime] = {}
    for _, name, created, data in rows:
        totals["transitions"][name] = totals["transitions"].get(name, 0) + 1
        job_id = data.get("_id") if isinstance(data, dict) else None
        if not isinstance(job_id, str):
            continue
        if name == COMPLETE_JOB:
            completed.append(job_id)
        elif name == REQUEST_START_JOB:
            picked.setdefault(job_id, created)
    wanted = list({*completed, *picked})
    jobs: dict[str, tuple] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start : start + LOOKUP_CHUNK]
        for pk, *rest in Job.objects.filter(pk__in=chunk).values_list(
            "pk", "name", "runtime", "enqueued_at", "trial"
        ):
            jobs[pk] = tuple(rest)
    for job_id in completed:
        job = jobs.get(job_id)  # a job pruned meanwhile is not counted
        if job is not None and job[1] is not None:
            name = job[0]
            histogram = totals["runtime"].setdefault(name, _histogram(RUNTIME_BUCKETS))
            _observe(histogram, RUNTIME_BUCKETS, float(job[1]))
    for job_id, at in picked.items():
        job = jobs.get(job_id)
        # the first pick only (a job picked again before this fold no longer tells when
        # its first pick waited from): enqueue → request_start_job
        if job is not None and job[3] == 1:
            _observe(totals["pickup"], PICKUP_BUCKETS, max(0.0, (at - job[2]).total_seconds()))


def fold(batch: int | None = None) -> dict:
    """The totals with the queue events since the last fold added (at most ``batch``).

    Reading is done outside any lock; the result is stored only if no other process stored a
    fold from the same cursor meanwhile (then its totals are returned), so two scrapes at
    once count nothing twice and block no writer while they read.
    """
    batch = batch or settings.CORE4_METRICS_EVENT_BATCH
    stored = Control.objects.filter(key=KEY).values_list("value", flat=True).first()
    if not isinstance(stored, dict) or "cursor" not in stored:
        cursor = Event.objects.aggregate(m=Max("id"))["m"] or 0
        with transaction.atomic():
            row, created = Control.objects.select_for_update().get_or_create(
                key=KEY, defaults={"value": _fresh(cursor)}
            )
            if not created and not (isinstance(row.value, dict) and "cursor" in row.value):
                row.value = _fresh(cursor)
                row.save(update_fields=["value"])
        return cast(dict, row.value)
    rows = list(
        Event.objects.filter(channel=QUEUE, id__gt=stored["cursor"])
        .order_by("id")
        .values_list("id", "name", "created", "data")[:batch]
    )
    if not rows:
        return stored
    totals = {**stored, "transitions": dict(stored["transitions"])}
    _fold_events(totals, rows)
    totals["cursor"] = rows[-1][0]
    with transaction.atomic():
        row = Control.objects.select_for_update().get(key=KEY)
        if isinstance(row.value, dict) and row.value.get("cursor") == stored["cursor"]:
            row.value = totals
            row.save(update_fields=["value"])
            return totals
        return cast(dict, row.value)  # another scrape folded these events first


def _cumulative(histogram: dict, buckets: tuple) -> list[tuple[str, float]]:
    running, out = 0, []
    for bound, count in zip((*buckets, float("inf")), histogram["b"], strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return out


class DatabaseCollector:
    """The figures read from the database at scrape time (see the module's docstring)."""

    def collect(self) -> Iterator[Metric]:
        counts = dict(QueueCount.objects.values_list("state", "n"))
        jobs = GaugeMetricFamily("core4_jobs", "Unfinished jobs per state", labels=["state"])
        for state in UNFINISHED:
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs

        workers = list(WorkerRecord.objects.alive().values_list("concurrency", "running"))
        yield GaugeMetricFamily(
            "core4_workers_alive", "Workers with a fresh heartbeat", value=len(workers)
        )
        yield GaugeMetricFamily(
            "core4_worker_slots", "Job slots of the live workers (their concurrency)",
            value=sum(c for c, _ in workers),
        )  # fmt: skip
        yield GaugeMetricFamily(
            "core4_worker_slots_busy", "Job slots of the live workers running a job",
            value=sum(len(r) if isinstance(r, list) else 0 for _, r in workers),
        )  # fmt: skip

        totals = fold()
        transitions = CounterMetricFamily(
            "core4_transitions", "Job transitions (queue events) per event name",
            labels=["event"],
        )  # fmt: skip
        for name in EVENTS:
            transitions.add_metric([name], totals["transitions"].get(name, 0))
        yield transitions
        runtime = HistogramMetricFamily(
            "core4_job_runtime_seconds", "Run time of completed jobs (all trials) per job name",
            labels=["name"],
        )  # fmt: skip
        for name, histogram in sorted(totals["runtime"].items()):
            runtime.add_metric(
                [name], _cumulative(histogram, RUNTIME_BUCKETS), sum_value=histogram["s"]
            )
        yield runtime
        pickup = HistogramMetricFamily(
            "core4_job_pickup_seconds", "Enqueue until a worker first picked the job"
        )
        pickup.add_metric(
            [], _cumulative(totals["pickup"], PICKUP_BUCKETS), sum_value=totals["pickup"]["s"]
        )
        yield pickup


def _forget_dead_processes(directory: str) -> None:
    """Drop the live-gauge files of server processes that are gone (multiprocess mode)."""
    for entry in os.scandir(directory):
        if not (entry.name.startswith("gauge_live") and entry.name.endswith(".db")):
            continue
        try:
            pid = int(entry.name.rsplit("_", 1)[1][:-3])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            mark_process_dead(pid, directory)
        except PermissionError:
            continue  # alive, another user's


def exposition() -> bytes:
    """The text a scrape gets: process metrics, then the database's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        _forget_dead_processes(directory)
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=directory)
    else:
        processes = REGISTRY
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return generate_latest(processes) + generate_latest(database)


# --- the view ----------------------------------------------------------------------------------
class Scraper:
    """The request's user when it presented ``CORE4_METRICS_TOKEN``."""

    is_authenticated = True
    is_active = True
    name = "metrics-scraper"


class MetricsToken(BaseAuthentication):
    """``Authorization: Bearer <CORE4_METRICS_TOKEN>``; any other credential falls through
    to the API's own authentication (a JWT, Basic, …)."""

    def authenticate(self, request):
        token = settings.CORE4_METRICS_TOKEN
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = header.partition(" ")
        if token and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token):
            return Scraper(), None
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="core4"'  # no credentials: 401, as everywhere in the API


class MayScrape(BasePermission):
    message = "metrics need cop or the metrics token"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Scraper) or access_of(request.user).is_admin


@extend_schema(exclude=True)  # Prometheus text, not core4's API (README "Monitoring")
class MetricsView(Core4APIView):
    permission_classes = [MayScrape]

    def get_authenticators(self):
        return [MetricsToken(), *super().get_authenticators()]

    def get(self, request, *args, **kwargs):
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
