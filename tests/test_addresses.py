"""The address rule as a pure function (SPEC "Safety"): no connection is ever made here.

The rule is an explicit list, so its answers do not change with the Python version, and an
IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by the IPv4
address it leads to.
"""

from __future__ import annotations

import ipaddress

import pytest

from linkback.common.http import is_public


def teredo(server: str, client: str) -> str:
    """The Teredo address of ``client`` behind ``server`` (RFC 4380: client bits inverted)."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    return str(ipaddress.IPv6Address(value | (~int(ipaddress.IPv4Address(client)) & 0xFFFFFFFF)))


REFUSED = [
    # IPv4
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.1.2.3",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.0.8",
    "192.0.0.170",
    "192.0.2.10",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6
    "::",
    "::1",
    "::127.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:0:7f00:1",
    "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::5db8:d822",
    "100::1",
    "2001:2::1",
    "2001:10::1",
    "2001:db8::1",
    "2002:7f00:1::1",
    "2002:a00:1::1",
    "2002:c0a8:101::1",
    teredo("65.54.227.120", "127.0.0.1"),
    teredo("10.0.0.1", "93.184.216.34"),
    "3fff::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "feff::1",
    "ff02::1",
]

ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "192.0.1.1",
    "198.20.0.1",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2a00:1450:4001:81c::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",
    "2002:5db8:d822::1",
    teredo("65.54.227.120", "93.184.216.34"),
]


@pytest.mark.parametrize("address", REFUSED)
def test_refused(address: str) -> None:
    assert is_public(address) is False


@pytest.mark.parametrize("address", ALLOWED)
def test_allowed(address: str) -> None:
    assert is_public(address) is True


def test_the_teredo_helper_matches_python() -> None:
    parsed = ipaddress.IPv6Address(teredo("65.54.227.120", "192.0.2.45"))
    assert parsed.teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("192.0.2.45"),
    )
