"""Errors a user can fix. The CLI prints any of them as one line and exits with status 2."""
from __future__ import annotations


class MnistlabError(Exception):
    """A problem the user can fix; the message names the bad value and what is allowed."""


class ConfigError(MnistlabError, ValueError):
    """A bad configuration value."""


class UsageError(MnistlabError):
    """Bad command-line input found after parsing."""


class DataError(MnistlabError):
    """The data could not be found, verified or fetched."""


class RunDirError(MnistlabError):
    """A run folder that is missing, foreign, incomplete or inconsistent."""


class StoreError(MnistlabError):
    """A store that cannot be used (other schema, other data set, unreadable)."""


class SweepError(MnistlabError):
    """A sweep that cannot start (busy folder, other config, bad grid)."""


class SummaryError(MnistlabError):
    """Nothing to summarize, or not a sweep folder."""


class ReportError(MnistlabError):
    """A folder that cannot be reported on, or a partial sweep without --allow-partial."""


class ExecutorError(MnistlabError):
    """An executor that cannot start (Ray missing, cluster unreachable)."""


class WriteError(MnistlabError):
    """A folder mnistlab must write to is full, read-only, or not the user's to write."""
