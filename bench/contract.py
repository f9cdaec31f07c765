"""What crosses the process boundary between the harness and the lab's servers, in one place.

The servers (``servers/``), the Celery worker and the Locust users run in processes of
their own; they and the harness must agree on these names. Both sides import them from
here, and ``tests/unit/test_contract.py`` checks that neither writes one by hand. Standard
library only: a server imports this before anything else of the harness.
"""

from __future__ import annotations

# Files a server writes in its ledger folder.
LEDGER_FILE = "ledger.jsonl"  # one JSON record per finished unit of work (servers/work.py)
HUMAN_LOG_FILE = "notification.log"  # the tutorial's log line, also an own app's default done marker

# The lab's API, as the servers declare it and the harness fills it in.
PUSH_ROUTE = "/push/{device_token}"  # as the servers declare it (the tutorial's listing)
PUSH_PATH = "/push/{token}"  # as the harness fills it: {token} is one request's device token
HEALTH_PATH = "/health"
PID_HEADER = "x-worker-pid"  # which process answered, on every response of a lab server

# Environment variables the harness sets for the processes that do the work.
WORK_KIND = "BENCH_WORK_KIND"  # "sleep" or "cpu"
WORK_SECONDS = "BENCH_WORK_SECONDS"  # one unit of work's duration (float, already scaled)
LEDGER_DIR = "BENCH_LEDGER_DIR"  # where LEDGER_FILE and HUMAN_LOG_FILE go
THREAD_LIMIT = "BENCH_THREAD_LIMIT"  # anyio's thread limiter, when a variant sets one
PROCESSES = "BENCH_PROCESSES"  # the process pool's size
BROKER_URL = "BENCH_BROKER_URL"  # Celery's broker and result backend
PREFETCH = "BENCH_PREFETCH"  # Celery's worker_prefetch_multiplier
FAIL_FIRST = "BENCH_FAIL_FIRST"  # task-control: attempts that fail before one succeeds
VARIANT = "BENCH_VARIANT"  # Locust: the variant its users load (names its stats)
LOCUST_PACE = "BENCH_LOCUST_PACE"  # Locust: seconds between one user's requests
LOCUST_REQUEST = "BENCH_LOCUST_REQUEST"  # Locust: an own app's request as JSON (method, path, headers, body)

# What the servers' frameworks do by default, which the theory counts on.
ANYIO_DEFAULT_THREADS = 40  # anyio.to_thread's default limiter, one per event loop

# What uvicorn (and so the harness) takes as an app: ``module.path:attr``.
IMPORT_STRING = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"

# The page written beside every run document.
REPORT_PAGE = "report.html"
