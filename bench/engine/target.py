"""The URL a ``bench load`` fires at, and the guard that keeps it on this machine.

The tool fires load: a typo must not hit someone else's server, so anything but a
loopback address (127.0.0.0/8, ::1, localhost) needs ``--allow-remote``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from bench.errors import BenchError, quoted
from bench.model.request import PATH_SAFE, QUERY_SAFE


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    path: str  # with the query string
    authority: str | None = None  # host[:port] as the URL wrote it: the Host header (name-based virtual hosts)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(url: str, allow_remote: bool = False) -> Target:
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        host = parts.hostname
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise BenchError(f"{quoted(url)}: not a URL ({exc})") from None
    if parts.scheme != "http":
        raise BenchError(f"{quoted(url)}: only http:// URLs can be loaded (got {parts.scheme}://)")
    if not host:
        raise BenchError(f"{quoted(url)}: no host in the URL")
    try:
        port = 80 if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise BenchError(f"{quoted(url)}: the port is not a number from 1 to 65535")
    if not allow_remote and not is_loopback(host):
        raise BenchError(
            f"refusing to load {quoted(url)}: {host} is not a loopback address (127.0.0.0/8, ::1, localhost); "
            "pass --allow-remote if it is your own server"
        )
    # RFC 3986: what may not stand in a request line (spaces, control and non-ASCII
    # characters) is percent-encoded as UTF-8; existing %XX escapes are kept.
    path = quote(parts.path or "/", safe=PATH_SAFE) + (f"?{quote(parts.query, safe=QUERY_SAFE)}" if parts.query else "")
    authority = parts.netloc.rpartition("@")[2]  # never the user:password part
    connect = "127.0.0.1" if host.lower() == "localhost" else host
    return Target(url=url, host=connect, port=port, path=path, authority=authority if authority.isascii() else None)


async def connection_refused(host: str, port: int, timeout_s: float) -> str | None:
    """Why nothing answers at ``host:port`` ("connection refused"), or None when something
    accepts a connection: checked once before the load, so that an empty target is one
    clear line instead of thousands of connect errors."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except asyncio.TimeoutError:
        return None  # a slow accept is the load's to measure
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    writer.close()
    return None
