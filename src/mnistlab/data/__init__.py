"""Datasets: acquisition offline-safe, verification, IDX parsing, per-class subsets, corruptions."""
