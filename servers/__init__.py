"""One small FastAPI app per concurrency strategy, all serving the same API.

Each module here reads like the tutorial listing it extends and differs from its
siblings only in how it runs the slow work (``servers.work``).
"""
