"""The operators' dashboard: one page at ``/`` on top of the public APIs (README, "Dashboard")."""
