"""The egress policy for HTTP from nodes (CONTRACT.md section 3).

A node's URL is user input, so every connection a node opens is vetted: the host name is resolved
once (`socket.getaddrinfo`), every address it resolves to is checked, and the socket is opened to
one of those checked addresses. Loopback, private (RFC 1918, CGNAT 100.64/10, unique-local
fc00::/7), link-local, unspecified, multicast and reserved addresses are refused unless
`allow_private`; cloud metadata and credential endpoints are refused always.

Why at the socket, not on the URL: checking a name and then letting the HTTP library resolve it
again leaves a DNS-rebinding window (the second answer may be 127.0.0.1). httpcore opens every
connection through a network backend's `connect_tcp(host, port)`; `_VettingBackend` does the
resolution and the check there and connects to the vetted IP literal. The URL is not rewritten, so
the Host header, TLS SNI and certificate verification all use the original name, and the
connection pool stays keyed by that name (two names behind one CDN address never share a TLS
connection). A kept-alive connection is reused only for the origin it was vetted for, and every
redirect hop to a new origin opens (and so vets) a new connection.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import httpcore
import httpx

from flowlane.nodes.base import NodeError

MAX_REDIRECTS = 5
ALLOWED_SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refused even with allow_private: from them a request gets the machine's cloud credentials.
# 169.254.169.254 / fd00:ec2::254: EC2 instance metadata (IMDS, also Azure, GCP, OCI);
# 169.254.170.2: the ECS task credentials endpoint; 169.254.170.23 / fd00:ec2::23: the EKS Pod
# Identity agent.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052 NAT64: a gateway turns 64:ff9b::a.b.c.d into a connection to a.b.c.d.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _effective(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address really reaches, when it embeds one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def check_address(ip: str | IPAddress, allow_private: bool) -> str | None:
    """Why a connection to this address is refused, or None when it is allowed."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        # fe80::1%eth0: the zone does not change which address it is.
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    target = _effective(address)
    if address in METADATA_ADDRESSES or target in METADATA_ADDRESSES:
        return "cloud metadata address"
    if allow_private:
        return None
    # Order matters: the first matching category is the one a user understands best.
    if target.is_unspecified:
        return "unspecified address"
    if target.is_loopback:
        return "loopback address"
    if target.is_link_local:
        return "link-local address"
    if target.is_multicast:
        # ipaddress calls 224.0.0.0/4 global; it is never a server.
        return "multicast address"
    if isinstance(target, ipaddress.IPv4Address) and target in _CGNAT:
        return "shared address space (CGNAT)"
    if target.is_private:
        return "private address"
    if target.is_reserved:
        return "reserved address"
    if not target.is_global:
        return "non-public address"
    return None


def denied(host: str, address: str, reason: str) -> NodeError:
    return NodeError(
        "EGRESS_DENIED",
        f"refused to connect to {host} ({address}): {reason}",
        {"host": host, "address": address, "reason": reason},
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        # Raised as httpcore's error so httpx reports it like any other failed connection.
        raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
    addresses: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpcore.ConnectError(f"could not resolve {host}: no IP address")
    return addresses


class _VettingBackend(httpcore.SyncBackend):
    """Resolves, checks, and connects to the checked address (no second resolution)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        # Every answer must pass, not just one: a name that resolves to both a public and a
        # private address is refused, whichever one the connection would have used.
        for address in addresses:
            reason = check_address(address, self.allow_private)
            if reason is not None:
                raise denied(host, address, reason)
        # Like socket.create_connection: each vetted address in turn, the last failure raised.
        error: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout, local_address, list(socket_options or [])
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes ~20 ms; one verifying context serves every client and thread.
    return httpx.create_ssl_context()


class EgressTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through `_VettingBackend`.

    httpx has no public argument for httpcore's network backend, so the pool the base class
    builds is replaced by one with the same settings and the vetting backend; everything else
    (request/response conversion, exception mapping, closing) is the base class's. No proxy is
    ever used: a proxy would connect on our behalf and bypass the check.
    """

    def __init__(self, *, allow_private: bool, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=20, max_keepalive_connections=5)
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self.allow_private = allow_private
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_VettingBackend(allow_private),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Checked here too because a redirect may point anywhere (ftp:, file:, ...).
        if request.url.scheme not in ALLOWED_SCHEMES:
            raise NodeError(
                "EGRESS_DENIED",
                f"refused the URL scheme {request.url.scheme!r} (only http and https)",
                {"host": request.url.host, "scheme": request.url.scheme},
            )
        return super().handle_request(request)


def egress_client(*, timeout: float, allow_private: bool) -> httpx.Client:
    """An httpx client for node HTTP: the egress policy on every connection, redirects followed
    (at most five, each hop vetted), no proxies or .netrc from the environment."""
    from flowlane import __version__

    return httpx.Client(
        transport=EgressTransport(allow_private=allow_private),
        timeout=timeout,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        # trust_env would read HTTP(S)_PROXY and .netrc: neither may route or authenticate a
        # node's request behind the user's back.
        trust_env=False,
        headers={"User-Agent": f"Flowlane/{__version__}"},
    )
