"""Settings of the maker's own middleware side, kept apart from ROS_DOMAIN_ID.

A Unitree robot speaks DDS on its own domain (0 out of the factory) over its wired port. The
robot config states them (``native:``), launch arguments override them (``native_domain``,
``native_interface``), and tests and the demo put them on a private domain over the loopback
interface with multicast off, so no native traffic ever leaves the machine, and with a
discovery tag of their own (Cyclone DDS's ``Discovery/Tag``): only participants with the same tag
see each other, so runs side by side on one machine never cross even on the same domain number.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, replace

LOOPBACK = "lo"


@dataclass(frozen=True)
class NativeSettings:
    """The maker's own middleware (Unitree DDS), separate from ROS_DOMAIN_ID.

    ``network_interface``: the NIC facing the robot (e.g. its wired port), '' = Cyclone DDS's
    default choice; ``multicast`` off needs ``peers`` (unicast discovery). ``tag``: a discovery tag
    ('' on a robot: Unitree's participants have none).
    """

    domain_id: int = 0
    network_interface: str = ""
    multicast: bool = True
    peers: tuple[str, ...] = ()
    tag: str = ""


def with_overrides(base: NativeSettings, domain_id: int | None = None, network_interface: str | None = None,
                   multicast: bool | None = None, tag: str | None = None) -> NativeSettings:
    """``base`` with the given fields replaced (None keeps the config's value)."""
    out = base
    if domain_id is not None and domain_id >= 0:
        if domain_id > 232:
            raise ValueError(f"native domain {domain_id} is out of range [0, 232]")
        out = replace(out, domain_id=int(domain_id))
    if network_interface:
        out = replace(out, network_interface=network_interface)
    if multicast is not None:
        out = replace(out, multicast=multicast)
    if tag:
        out = replace(out, tag=tag)
    return out


def loopback(domain_id: int | None = None, tag: str = "") -> NativeSettings:
    """A private native domain on the loopback interface, multicast off (tests, demo)."""
    return NativeSettings(domain_id if domain_id is not None else random.randint(200, 230), LOOPBACK, False,
                          ("127.0.0.1",), tag)


def private_tag() -> str:
    """A discovery tag no other run on this machine uses."""
    return f"egoscale-{secrets.token_hex(6)}"


def describe(settings: NativeSettings) -> str:
    nic = settings.network_interface or "default interface"
    tag = f", tag {settings.tag}" if settings.tag else ""
    return f"native DDS domain {settings.domain_id} on {nic}, multicast {'on' if settings.multicast else 'off'}{tag}"
