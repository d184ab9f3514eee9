"""A run: job in, outcome out; the run folder and the SQLite store that keep outcomes."""
