"""What a server process measures of its event sockets (Prometheus, ``/metrics``).

* ``core4_websocket_connections`` — event sockets open now (accepted, not yet closed);
* ``core4_event_delivery_seconds`` — from an event's ``created`` (taken in the transition's
  transaction, just before its commit) until this process's hub handed it to its sockets;
  observed once per event and process that had a socket interested in it.

Both are process metrics: with ``CORE4_METRICS_DIR`` (prometheus_client's multiprocess mode)
``/metrics`` sums them over the server processes of the host; the gauge counts live
processes only (``livesum``).
"""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

DELIVERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SOCKETS = Gauge(
    "core4_websocket_connections",
    "Event sockets (/core4/api/v1/event) open now",
    multiprocess_mode="livesum",
)
DELIVERY = Histogram(
    "core4_event_delivery_seconds",
    "Event created (in its transaction) until handed to the interested sockets",
    buckets=DELIVERY_BUCKETS,
)
