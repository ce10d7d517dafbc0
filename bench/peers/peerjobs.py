"""core4site's copy of the peers' job body (``CORE4_JOB_PACKAGES=jobqueue.jobs,peerjobs``)."""

from __future__ import annotations

from peer_tasks import body

from jobqueue.job import CoreJob


class PeerJob(CoreJob):
    """One Redis round trip, as every peer's job."""

    author = "bench"

    def execute(self, i=0, t=0.0, **kwargs):
        body(i, t)
