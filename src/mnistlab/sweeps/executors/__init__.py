"""Executors: the one protocol (jobs in, outcomes out) run locally, stacked, or on Ray."""
