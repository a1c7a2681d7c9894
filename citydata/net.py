"""Which network addresses the server may reach out to on a user's behalf.

Webhooks and harvest sources make this server open connections to URLs that users chose.
In production those must not lead to loopback, private, link-local or otherwise non-public
addresses (server-side request forgery: the cloud metadata endpoint, an internal admin page,
a database port). :func:`public_addresses` resolves a name and vets every address it gets;
callers then connect to one of *those* addresses, so a name cannot switch to a private one
between the check and the connection (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket


class AddressRefused(Exception):
    """A host is, or resolves to, an address this server may not connect to."""


def is_public_address(address: str) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, shared, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, if every one of them is public; else
    :class:`AddressRefused` (also when it does not resolve)."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        raise AddressRefused(f"{host} is this server itself")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressRefused(f"{host} cannot be found") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [a for a in addresses if not is_public_address(a)]
    if not addresses or refused:
        raise AddressRefused(f"{host} is a loopback or private address"
                             + (f" ({refused[0]})" if refused and refused[0] != host else ""))
    return addresses
