"""A learner's routes, found, not guessed: which one the load goes to, and what it wants as a body.

Runs in the diagnosis child (standard library, and the app's own Starlette): the app's
HTTP routes besides the documentation's, the one a request matches (and when only the
method differs, which method the path has), the one to load when none was named, and the
JSON schema of its body from the app's own OpenAPI document, for the harness to build a
valid body from (``bench.lab.bodies``).
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import unquote

DOCS_PATHS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")


class NoRoute(Exception):
    """No route of the app fits: the message says which there are and how to choose."""


def routes(app: Any) -> list[tuple[str, Any]]:
    """(``POST /notify/{user_id}``, route) for each HTTP route the app declares, docs left out."""
    found = []
    for route in getattr(app, "routes", []) or []:
        path = getattr(route, "path", None)
        methods = getattr(route, "methods", None)
        if path is not None and methods and path not in DOCS_PATHS:
            found.append((f"{','.join(sorted(methods - {'HEAD'}))} {path}", route))
    return found


def scope(path: str, method: str = "GET", headers: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The ASGI scope of one request (the path as sent, percent-encoded; the scope's decoded)."""
    raw, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw),
        "raw_path": raw.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"user-agent", b"bench-check"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers or []),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def match(app: Any, path: str, method: str = "GET") -> Any | None:
    """The route ``method path`` reaches; None when none does. A route whose path matches under
    another method is said, with that method: never "no route matches" when one does."""
    from starlette.routing import Match

    listed = routes(app)
    other = None
    for name, route in listed:
        with contextlib.suppress(Exception):
            fit = route.matches(scope(path, method))[0]
            if fit == Match.FULL:
                return route
            if fit == Match.PARTIAL:
                other = name
    if other is not None:
        verb = other.split(" ", 1)[0]
        raise NoRoute(f"{path} is the route {other}, not {method}: give --method {verb.split(',')[0]}")
    if listed:
        names = ", ".join(n for n, _ in listed)
        raise NoRoute(f"no route of the app matches {path}; its routes: {names} (the request: {method} {path})")
    return None


def choose(app: Any, wanted: str | None) -> tuple[str, str]:
    """(method, path template) of the route to load: the one named ``"POST /notify/{id}"``, or the
    app's only route. Several and none named: the list, and how to choose."""
    listed = routes(app)
    if wanted is not None:
        verb, _, path = wanted.strip().partition(" ")
        for name, _ in listed:
            methods, route_path = name.split(" ", 1)
            if route_path == path.strip() and verb.upper() in methods.split(","):
                return verb.upper(), route_path
        raise NoRoute(f"--route {wanted!r} is not a route of the app; its routes: {', '.join(n for n, _ in listed)}")
    if len(listed) == 1:
        methods, route_path = listed[0][0].split(" ", 1)
        return ("GET" if "GET" in methods.split(",") else methods.split(",")[0]), route_path
    if not listed:
        raise NoRoute("the app declares no HTTP route (give --path)")
    names = "; ".join(n for n, _ in listed)
    raise NoRoute(f"the app has {len(listed)} routes ({names}): choose one with --route 'METHOD /path'")


def body_schema(app: Any, method: str, path: str) -> dict[str, Any] | None:
    """The JSON schema of the route's request body from the app's OpenAPI document, with the
    document's components (for its ``$ref``s) and its examples; None when it takes no JSON body."""
    openapi = getattr(app, "openapi", None)
    if openapi is None:
        return None
    try:
        document = openapi()
    except Exception:  # the learner's models may not render: then no body is built
        return None
    operation = document.get("paths", {}).get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content or "schema" not in content:
        return None
    examples = [content["example"]] if "example" in content else []
    examples += [e.get("value") for e in (content.get("examples") or {}).values() if isinstance(e, dict)]
    return {
        "schema": content["schema"],
        "components": document.get("components", {}),
        "examples": [e for e in examples if e is not None],
    }
