"""The SSRF guard: which addresses a request may connect to, checked on what is connected to.

A URL is read the way the HTTP stack reads it: requests prepares it, urllib3's ``parse_url`` takes
the host and port (so ``http://127.0.0.2:8080\\@1.1.1.1/`` is host 127.0.0.2, whatever
``urllib.parse`` says). The host is resolved once with ``getaddrinfo``, which also turns every
numeric notation into an address (2130706433, 0177.0.0.1, 0x7f.1, 127.1, ::ffff:127.0.0.1,
zone ids); each address is checked, and the connection (crawler/connection.py) goes to the
checked address, never resolving the name again (no DNS-rebinding window). TLS still uses the host
name for SNI and certificate verification.

Refused unless the policy trusts the host: anything not globally routable (loopback, RFC 1918,
link-local incl. cloud metadata 169.254.169.254, CGNAT, unspecified, documentation ranges,
fc00::/7), multicast, and IPv6 forms that embed such an IPv4 address (mapped, compatible, 6to4,
Teredo, NAT64).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from urllib3.util import parse_url

from crawler.errors import AddressRefused, FetchError

DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Target:
    """Where a URL's connection goes: scheme, host as urllib3 holds it (no brackets), port."""

    scheme: str
    host: str
    port: int

    @property
    def key(self) -> tuple[str, int]:
        return self.host.lower(), self.port


@dataclass
class AddressPolicy:
    """``[http] allow_private_addresses`` and ``private_hosts`` ("host" or "host:port")."""

    allow_private: bool = False
    private_hosts: list[str] = field(default_factory=list)

    def trusts(self, host: str, port: int) -> bool:
        if self.allow_private:
            return True
        shown = f"[{host}]" if ":" in host else host
        names = {host, shown, f"{shown}:{port}"}
        return any(entry.lower() in {n.lower() for n in names} for entry in self.private_hosts)


def target(url: str, method: str = "GET") -> Target:
    """The scheme, host and port a request for ``url`` connects to; non-http(s) URLs and URLs
    without a host raise `AddressRefused`, unparseable ones `FetchError`."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise AddressRefused(f"refused non-http(s) URL scheme {scheme!r}", url)
    try:
        prepared = requests.Request(method, url).prepare().url
        parsed = parse_url(prepared)
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise FetchError(f"invalid URL: {exc}", url) from None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        raise AddressRefused(f"refused non-http(s) URL scheme {parsed.scheme!r}", url)
    return Target(parsed.scheme, parsed.host.strip("[]"), parsed.port or DEFAULT_PORTS[parsed.scheme])


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        found += list(address.teredo)
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(ip: str) -> bool:
    """True when ``ip`` (a literal, zone id allowed) is a global unicast address, and so is any IPv4
    address embedded in it."""
    address = ipaddress.ip_address(ip)
    if not address.is_global or address.is_multicast:
        return False
    return all(inner.is_global and not inner.is_multicast
               for inner in (_embedded_ipv4(address) if address.version == 6 else []))


def resolve(host: str, port: int, policy: AddressPolicy, url: str | None = None) -> list[str]:
    """The addresses of ``host`` (one ``getaddrinfo``; a trailing dot is ignored), all checked
    against ``policy``; raises `AddressRefused`, or ``socket.gaierror`` when the name does not resolve."""
    name = host.strip("[]")
    lookup = name.rstrip(".") or name
    infos = socket.getaddrinfo(lookup, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for family, _, _, _, sockaddr in infos:
        ip = sockaddr[0]
        if family == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3]:
            ip = f"{ip}%{sockaddr[3]}"
        if ip not in addresses:
            addresses.append(ip)
    if not policy.trusts(name, port):
        for ip in addresses:
            if not is_public(ip):
                raise AddressRefused(
                    f"refused {ip.split('%')[0]} (loopback/private/link-local); "
                    "set [http] allow_private_addresses = true for local mirrors",
                    url or f"{name}:{port}",
                )
    return addresses
