"""Jobs bundled with core4site (examples; ``core4.queue.helper.job.example.DummyJob``
is an alias of ``jobqueue.jobs.example.DummyJob``)."""
