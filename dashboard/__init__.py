"""The operators' dashboard: one page at ``/`` on top of the public APIs (docs/dashboard.md)."""
