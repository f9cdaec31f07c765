"""The ``bench`` executable's first lines: the preloaded starter is started before the rest of
the harness is imported.

Importing the harness (its models, the report, the commands) takes some 0.45 s of CPU, and the
starter needs about as long to import FastAPI and uvicorn (``bench.engine.forking``). Started
first, on a two-core machine the two imports overlap rather than add up, for the commands that
start lab servers.
"""

from __future__ import annotations

import sys

SERVING = {"run", "tour", "serve", "locust"}  # the commands that start the lab's servers


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in SERVING and not {"-h", "--help"} & set(args):
        from bench.engine import forking

        forking.warm()
    from bench.cli import main as cli_main

    cli_main()
