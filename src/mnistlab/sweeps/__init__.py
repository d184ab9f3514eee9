"""Sweeps: grid of jobs -> executor -> store; statistics, findings and summaries over seeds."""
