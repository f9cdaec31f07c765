"""What a load sends besides its path: the method, headers and a body, validated before any wire.

Everything here is checked at the edge, before anything starts: a method is one of those
whose responses the client can read, a header name is an HTTP token, and no value holds a
carriage return, a line feed or a NUL, so nothing a user types can add a header or a
request of its own (RFC 9110 section 5.5; RFC 9112 section 2.2). A path is made safe the
same way by ``safe_path``: control characters and spaces refused, anything else outside
the URI's characters percent-encoded as UTF-8 (RFC 3986 section 3.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote

from bench.errors import BenchError, quoted

# HEAD and CONNECT are left out: a HEAD answer has no body whatever its Content-Length says,
# and the client reads every response as the answer to a request that has one.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 5.6.2: a header's name
MANAGED = ("host", "content-length", "transfer-encoding", "connection")  # the client writes these itself
SUB_DELIMS = "!$&'()*+,;="
PATH_SAFE = "/:@-._~%" + SUB_DELIMS  # pchar and "/", RFC 3986 section 3.3
QUERY_SAFE = PATH_SAFE + "?"  # section 3.4


def safe_path(path: str, what: str = "--path") -> str:
    """``path`` as it may stand in a request line: it starts with /, has no control character
    or space, and what is not ASCII is percent-encoded."""
    if not path.startswith("/"):
        raise BenchError(f"{what} {quoted(path)}: a path starts with /")
    if any(not c.isprintable() or c.isspace() for c in path):
        raise BenchError(f"{what} {quoted(path)}: no spaces or control characters in a path (encode them as %XX)")
    base, sep, query = path.partition("?")  # {token} stays as it is: it is filled before the wire
    return quote(base, safe=PATH_SAFE + "{}") + (sep + quote(query, safe=QUERY_SAFE + "{}") if sep else "")


@dataclass(frozen=True)
class RequestSpec:
    """The method, headers and body of every request of a load (its path comes per request)."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    authority: str | None = None  # the Host header as the URL gave it ("localhost:8080", "[::1]:8083")
    keep_alive: bool = True  # False: "Connection: close", a new connection for every request (hey's -disable-keepalive)

    @classmethod
    def of(
        cls,
        method: str = "GET",
        headers: tuple[str, ...] = (),
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> RequestSpec:
        """From the command line's ``--method``, ``--header 'Name: value'`` (each), ``--body`` or
        ``--body-file`` (read by the caller), ``--content-type``."""
        verb = method.upper()
        if verb not in METHODS:
            raise BenchError(f"--method {quoted(method)}: one of {', '.join(METHODS)}")
        pairs = [_header(line) for line in headers]
        if content_type is not None:
            pairs = [(k, v) for k, v in pairs if k.lower() != "content-type"]
            pairs.append(("Content-Type", _value("--content-type", content_type)))
        if body and not any(k.lower() == "content-type" for k, _ in pairs):
            pairs.append(("Content-Type", "application/json" if _looks_like_json(body) else "text/plain"))
        return cls(verb, tuple(pairs), body or b"")

    @property
    def plain_get(self) -> bool:
        return self.method == "GET" and not self.headers and not self.body

    @property
    def templated(self) -> bool:
        """Whether ``{token}`` stands in a header or the body: then each request is its own."""
        return b"{token}" in self.body or any("{token}" in v for _, v in self.headers)

    def filled(self, token: str) -> RequestSpec:
        """This request for ``token``: each ``{token}`` replaced (a token is letters, digits, - and _)."""
        if not self.templated:
            return self
        headers = tuple((k, v.replace("{token}", token)) for k, v in self.headers)
        return replace(self, headers=headers, body=self.body.replace(b"{token}", token.encode()))

    def head(self) -> bytes:
        """The header lines the request carries besides Host and User-Agent, and its body's length."""
        lines = "".join(f"{name}: {value}\r\n" for name, value in self.headers)
        if not self.keep_alive:
            lines += "Connection: close\r\n"
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines += f"Content-Length: {len(self.body)}\r\n"
        return lines.encode("latin-1")


def _header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not TOKEN.match(name.strip()) or name != name.strip():
        raise BenchError(f"--header {quoted(line)}: give 'Name: value', the name letters, digits and -")
    if name.lower() in MANAGED:
        raise BenchError(f"--header {quoted(line)}: the client writes {name} itself")
    return name, _value(f"--header {name}", value.strip())


def _value(what: str, value: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise BenchError(f"{what}: a value cannot hold a line break or NUL ({quoted(value)})")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise BenchError(f"{what}: a header value is Latin-1 text ({quoted(value)})") from None
    return value


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")
