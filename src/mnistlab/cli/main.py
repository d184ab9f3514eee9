"""The command line: `mnistlab data | run | sweep | summarize | explain | report`.

Bad input never gives a traceback: one line on stderr naming the bad value, exit status 2.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys

from mnistlab.cli.args import Parser
from mnistlab.cli.failures import write_failure
from mnistlab.errors import MnistlabError, UsageError

TRAINING = ("run", "sweep")  # the commands that take the models' own flags


def build_parser(settings: bool = True) -> Parser:
    """The parser. settings: declare the models' own flags (from their declarations, without torch); main asks for
    them only when the command is one that trains, the only commands that take them."""
    from mnistlab.cli import parsers
    from mnistlab.version import __version__

    parser = Parser(prog="mnistlab", description="MLP vs CNN on MNIST as the training data shrinks: "
                    "train, sweep, explain and report, reproducibly and offline-safe.")
    parser.add_argument("--version", action="version", version=f"mnistlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parsers.register(sub, settings=settings)
    return parser


def main(argv=None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser(settings=next((a for a in argv if not a.startswith("-")), None) in TRAINING)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            raise UsageError(f"give a command: {', '.join(commands)} (see mnistlab --help)")
        return args.handler(args) or 0
    except MnistlabError as e:
        print(f"mnistlab: error: {e}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.OperationalError) as e:  # a full disk or a read-only folder no handler named
        failure = write_failure(e)
        if failure is None:
            raise
        print(f"mnistlab: error: {failure}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmnistlab: interrupted; files already written are complete, nothing half-written was left",
              file=sys.stderr)
        return 130


def entry() -> None:
    """The `mnistlab` command. It leaves with os._exit once its files are written and its output flushed:

    - skipping the interpreter's teardown (torch, scikit-learn, matplotlib) saves ~0.3 s a command;
    - after a handled Ctrl-C (status 130), a Ctrl-C that landed inside an extension's C code can leave
      CPython's 'unhandled KeyboardInterrupt' flag set even though we handled it, and the interpreter
      would then kill itself with SIGINT at exit (status -2 instead of 130, seen ~1 time in 10 under load).
    Not when Ray is loaded: its atexit hook stops the local cluster's processes.
    """
    import os

    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    if "ray" not in sys.modules:
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
