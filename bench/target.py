"""The URL a ``bench load`` fires at, and the guard that keeps it on this machine.

The tool fires load: a typo must not hit someone else's server, so anything but a
loopback address (127.0.0.0/8, ::1, localhost) needs ``--allow-remote``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.errors import BenchError


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    port: int
    path: str  # with the query string


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(url: str, allow_remote: bool = False) -> Target:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http":
        raise BenchError(f"{url}: only http:// URLs can be loaded (got {parts.scheme}://)")
    host = parts.hostname
    if not host:
        raise BenchError(f"{url}: no host in the URL")
    try:
        port = parts.port or 80
    except ValueError:
        raise BenchError(f"{url}: the port is not a number from 1 to 65535") from None
    if not allow_remote and not is_loopback(host):
        raise BenchError(
            f"refusing to load {url}: {host} is not a loopback address (127.0.0.0/8, ::1, localhost); "
            "pass --allow-remote if it is your own server"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url=url, host="127.0.0.1" if host.lower() == "localhost" else host, port=port, path=path)
