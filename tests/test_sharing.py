"""The links a teacher shares: taken from the address the browser used, loopback detected with advice
for serving a class on the network."""

from __future__ import annotations

import pytest

from codec_arena.ui import sharing


@pytest.mark.parametrize(("headers", "expected"), [
    ({"referer": "http://classroom.test:7860/?test=abc&x=1", "host": "127.0.0.1:7860"}, "http://classroom.test:7860/"),
    ({"referer": "https://school.example/arena/?__theme=dark"}, "https://school.example/arena/"),
    ({"origin": "http://192.168.1.20:7860", "host": "127.0.0.1:7860"}, "http://192.168.1.20:7860/"),
    ({"x-forwarded-host": "me-arena.hf.space", "host": "10.0.0.1"}, "https://me-arena.hf.space/"),
    ({"x-forwarded-host": "lab.example", "x-forwarded-proto": "https"}, "https://lab.example/"),
    ({"host": "localhost:7860"}, "http://localhost:7860/"),
    ({"referer": "javascript:alert(1)", "host": "pc.local:7860"}, "http://pc.local:7860/"),
])
def test_base_url_is_the_address_the_browser_used(headers: dict, expected: str) -> None:
    assert sharing.base_url(headers) == expected


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("app.localhost", True),
    ("0.0.0.0", True), ("::", True),
    ("192.168.1.20", False), ("classroom.test", False), ("me-arena.hf.space", False), ("10.0.0.5", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert sharing.is_loopback(host) is loopback


def test_a_loopback_link_gets_a_warning_with_the_fix() -> None:
    link = "http://127.0.0.1:7860/?test=abc"
    local_only = sharing.loopback_warning(link, "127.0.0.1", 7860, ["192.168.1.20", "10.8.0.2"])
    assert "will not work for your students" in local_only and "GRADIO\\_SERVER\\_NAME=0.0.0.0" not in local_only
    assert "GRADIO_SERVER_NAME=0.0.0.0 make demo" in local_only and "http://192.168.1.20:7860" in local_only
    assert "10.8.0.2" in local_only and "same network" in local_only
    everywhere = sharing.loopback_warning("http://localhost:7860/?test=abc", "0.0.0.0", 7860, ["192.168.1.20"])
    assert "already listens on the network" in everywhere and "http://192.168.1.20:7860" in everywhere
    unknown = sharing.loopback_warning(link, "127.0.0.1", 7860, [])
    assert "this machine's address" in unknown
    for fine in ("http://192.168.1.20:7860/?test=abc", "https://me-arena.hf.space/?test=abc"):
        assert sharing.loopback_warning(fine, "0.0.0.0", 7860, ["192.168.1.20"]) == ""


def test_lan_addresses_are_reachable_ipv4_only() -> None:
    import ipaddress

    for address in sharing.lan_addresses():
        ip = ipaddress.ip_address(address)
        assert ip.version == 4 and not ip.is_loopback and not ip.is_link_local


def test_lan_addresses_prefer_the_default_route_and_skip_virtual_and_down_interfaces(monkeypatch) -> None:
    import socket
    from types import SimpleNamespace

    import psutil

    def addr(ip: str):
        return SimpleNamespace(family=socket.AF_INET, address=ip)

    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {
        "docker0": [addr("172.17.0.1")], "br-5f2a": [addr("172.18.0.1")], "lo": [addr("127.0.0.1")],
        "eth1": [addr("10.0.0.7")], "wlan0": [addr("192.168.1.20"), addr("169.254.3.4")], "eth2": [addr("10.9.9.9")]})
    monkeypatch.setattr(psutil, "net_if_stats", lambda: {
        "eth2": SimpleNamespace(isup=False), "wlan0": SimpleNamespace(isup=True), "eth1": SimpleNamespace(isup=True)})
    monkeypatch.setattr(sharing, "route_address", lambda: "192.168.1.20")
    assert sharing.lan_addresses() == ["192.168.1.20", "10.0.0.7"]  # the route's first; no docker, no down eth2
    link = "http://127.0.0.1:7860/?test=abc"
    assert "http://192.168.1.20:7860" in sharing.loopback_warning(link, "127.0.0.1", 7860, sharing.lan_addresses())
