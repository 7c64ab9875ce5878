"""Personal data kept to the minimum: anonymised IP addresses."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


# Every request logs its client's network: remember the answer for the addresses seen lately.
@lru_cache(maxsize=4096)
def anonymise_ip(address: str | None) -> str:
    """The network an address belongs to: IPv4 /24, IPv6 /48; "" when it is not an address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
