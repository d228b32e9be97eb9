"""Links a teacher shares: built from the address the teacher's browser used, checked for loopback
(a student's 127.0.0.1 is the student's own device), with advice for serving a class on the local
network, and drawn as a QR code for the projector."""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from .text import code, md

LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}
ALL_INTERFACES = {"0.0.0.0", "::", ""}
served_on = {"host": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
             "port": int(os.environ.get("GRADIO_SERVER_PORT", "7860"))}  # set by `ui.launch`


def base_url(headers) -> str:
    """The page address the request came from, without its query: the Referer of the browser's call
    (path prefix included), else Origin, else the forwarded or plain Host."""
    referer = urlsplit(headers.get("referer") or "")
    if referer.scheme in ("http", "https") and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}{referer.path[: referer.path.rfind('/') + 1] or '/'}"
    origin = urlsplit(headers.get("origin") or "")
    if origin.scheme in ("http", "https") and origin.netloc:
        return f"{origin.scheme}://{origin.netloc}/"
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:7860"
    proto = headers.get("x-forwarded-proto") or ("https" if host.endswith(".hf.space") else "http")
    return f"{proto}://{host}/"


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_loopback(host: str) -> bool:
    """True for an address that means "this device" on whichever device opens it (0.0.0.0 included: it is
    where a server listens, not an address to visit)."""
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


VIRTUAL = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "tun", "tap", "wg", "zt", "tailscale")


def route_address() -> str | None:
    """The IPv4 address this machine uses to reach other networks: a UDP socket's `connect` picks the route
    and sends nothing (192.0.2.1 is a documentation address)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            return probe.getsockname()[0]
    except OSError:
        return None


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses that other devices on the network can reach, the default route's first;
    interfaces that are down or virtual (containers, VPNs, VMs) and loopback or link-local addresses are left
    out. Read from the network interfaces; nothing is sent anywhere."""
    import socket

    import psutil

    stats = psutil.net_if_stats()
    found = []
    for name, addresses in psutil.net_if_addrs().items():
        if name.lower().startswith(VIRTUAL) or (name in stats and not stats[name].isup):
            continue
        for address in addresses:
            if address.family != socket.AF_INET:
                continue
            ip = ipaddress.ip_address(address.address)
            if not (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
                found.append(str(ip))
    preferred = route_address()
    return sorted(set(found), key=lambda a: (a != preferred, not ipaddress.ip_address(a).is_private,
                                             ipaddress.ip_address(a)))


def loopback_warning(link: str, bound_host: str, port: int, addresses: list[str]) -> str:
    """Markdown advice when `link` would send students to their own device; empty when it is fine."""
    if not is_loopback(host_of(link)):
        return ""
    listening_everywhere = bound_host in ALL_INTERFACES
    lan = addresses[0] if addresses else None
    example = f"http://{lan}:{port}" if lan else f"http://<this machine's address>:{port}"
    steps = (f"This app already listens on the network, so open it at {code(example)} (this machine's LAN "
             "address) and the links and QR code will use that address."
             if listening_everywhere else
             f"Restart the app so it listens on the network: {code('GRADIO_SERVER_NAME=0.0.0.0 make demo')} "
             f"(or {code('codec-arena serve --host 0.0.0.0')}), then open it at {code(example)} (this machine's "
             "LAN address) and create the test again; the links and QR code will use that address.")
    others = f" Other addresses of this machine: {', '.join(md(a) for a in addresses[1:])}." if len(addresses) > 1 \
        else ""
    return (f"> ⚠️ **This link will not work for your students.** You opened the app at {md(host_of(link))}, which "
            f"on a student's phone or laptop means *their own* device. {steps} Students must be on the same "
            f"network (Wi-Fi) as this machine.{others} On a Hugging Face Space the link works as it is.")


def qr_svg(link: str) -> str:
    """The link as a QR code (inline SVG, medium error correction, quiet zone kept) for the projector."""
    import segno

    return segno.make(link, error="m", micro=False).svg_inline(scale=6, border=4, dark="#000", light="#fff")
