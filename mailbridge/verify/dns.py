"""The key lookup seam: where DKIM public keys come from.

Verification asks a :class:`KeyResolver` for the TXT records of a name such as
``sel._domainkey.example.vn``. Two resolvers exist, chosen by ``dns.mode``:

- :class:`SystemResolver` asks DNS (dnspython's asyncio resolver), with a bounded
  number of tries; a timeout or SERVFAIL after them raises
  :class:`~mailbridge.errors.VerificationUnavailable` so the message is retried
  later instead of being rejected. It asks the servers of ``dns.nameservers``
  (``"HOST"`` or ``"HOST:PORT"``, HOST an IP address, IPv6 as ``"[::1]:53"``; each
  entry may have its own port) or, when that list is empty, the machine's
  resolver (``/etc/resolv.conf``).
- :class:`StaticResolver` answers from ``dns.static_records`` in the config, for
  closed networks and tests.

Either answers ``None`` when the name has no TXT record (NXDOMAIN or NODATA).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from mailbridge.errors import ConfigError, ConfigIssue, VerificationUnavailable

if TYPE_CHECKING:
    from mailbridge.config.schema import DnsConfig

__all__ = [
    "KeyResolver",
    "StaticResolver",
    "SystemResolver",
    "parse_nameserver",
    "resolver_from_config",
]

log = logging.getLogger("mailbridge.verify")

#: Seconds to wait between two tries of a failed query (multiplied by the try number).
RETRY_PAUSE = 0.2


class KeyResolver(Protocol):
    """Something that returns the TXT records of a DNS name."""

    async def txt(self, name: str) -> list[bytes] | None:
        """Each TXT record of ``name`` (its strings joined), or None when there is none.

        Raises :class:`~mailbridge.errors.VerificationUnavailable` when DNS cannot
        answer now (timeout, SERVFAIL).
        """
        ...


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


_BRACKETED = re.compile(r"^\[(?P<host>[^\]]+)\](?::(?P<port>\d+))?$")


def parse_nameserver(entry: str, *, default_port: int = 53) -> tuple[str, int]:
    """``"192.0.2.53"`` -> ``("192.0.2.53", 53)``; ``"127.0.0.1:5353"`` and
    ``"[::1]:5353"`` carry their port; a bare IPv6 address takes ``default_port``.

    The host must be an IP address (a name server cannot be found by name).
    Raises :class:`ValueError` with a message fit for an admin.
    """
    text = entry.strip()
    host, port_text = text, None
    if (match := _BRACKETED.match(text)) is not None:
        host, port_text = match["host"], match["port"]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"not an IP address (or IP:PORT) of a name server: {entry!r}"
        ) from None
    port = default_port
    if port_text is not None:
        if not port_text.isdigit():
            raise ValueError(f"not a port number in {entry!r}")
        port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not between 1 and 65535 in {entry!r}")
    return str(address), port


class SystemResolver:
    """TXT lookups through DNS, bounded in time and in number of tries.

    ``timeout`` bounds the wait for one server; one try asks the servers in turn,
    so it lasts at most ``timeout`` times their number.

    ``nameservers`` entries are parsed by :func:`parse_nameserver`; ``port`` is the
    port of the entries that name none. No entries: the machine's resolver.
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.timeout = timeout
        self.attempts = attempts
        self.port = port
        self.nameservers = (
            tuple(parse_nameserver(n, default_port=port) for n in nameservers)
            if nameservers
            else None
        )
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _get_resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            try:
                resolver = dns.asyncresolver.Resolver(
                    configure=self.nameservers is None
                )
            except dns.resolver.NoResolverConfiguration as exc:
                raise VerificationUnavailable(
                    f"no DNS resolver configured on this host: {exc}"
                ) from exc
            if self.nameservers is not None:
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(host, port)
                    for host, port in self.nameservers
                ]
            # timeout is per server asked; one try asks each server once in turn,
            # so a silent first server does not hide a second one that answers
            resolver.timeout = self.timeout
            resolver.lifetime = self.timeout * max(1, len(resolver.nameservers))
            self._resolver = resolver
        return self._resolver

    async def txt(self, name: str) -> list[bytes] | None:
        """The TXT records of ``name``; see :class:`KeyResolver`."""
        try:
            qname = dns.name.from_text(_normalise(name))
        except dns.exception.DNSException:  # not a valid DNS name: nothing there
            log.debug("not a valid DNS name: %r", name)
            return None
        resolver = self._get_resolver()
        problem = "no answer"
        for attempt in range(1, self.attempts + 1):
            try:
                answer = await resolver.resolve(
                    qname,
                    dns.rdatatype.TXT,
                    search=False,
                    raise_on_no_answer=False,
                    lifetime=resolver.lifetime,
                )
            except dns.resolver.NXDOMAIN:
                return None
            except dns.resolver.NoAnswer:
                return None
            except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
                problem = f"{type(exc).__name__}: {exc}"
                log.debug("TXT %s try %d of %d: %s", name, attempt, self.attempts, exc)
                if attempt < self.attempts:
                    await asyncio.sleep(RETRY_PAUSE * attempt)
                continue
            except dns.exception.DNSException as exc:
                problem = f"{type(exc).__name__}: {exc}"
                break
            if answer.rrset is None:
                return None
            return [
                b"".join(rdata.strings)
                for rdata in answer.rrset
                if rdata.rdtype == dns.rdatatype.TXT
            ] or None
        raise VerificationUnavailable(
            f"DNS lookup of {name} failed after {self.attempts} tries: {problem}"
        )


class StaticResolver:
    """TXT records from the configuration (``dns.mode: static``)."""

    def __init__(self, records: Mapping[str, str]) -> None:
        self._records = {_normalise(k): v for k, v in records.items()}

    async def txt(self, name: str) -> list[bytes] | None:
        """The configured record of ``name`` (case-insensitive), else None."""
        value = self._records.get(_normalise(name))
        return None if value is None else [value.encode("utf-8")]


def resolver_from_config(
    dns: DnsConfig, *, source: str = "mailbridge.yaml"
) -> KeyResolver:
    """The resolver that the ``dns`` section of ``mailbridge.yaml`` asks for.

    A malformed ``dns.nameservers`` entry raises :class:`ConfigError` naming it.
    """
    if dns.mode == "static":
        return StaticResolver(dns.static_records)
    issues: list[ConfigIssue] = []
    for index, entry in enumerate(dns.nameservers):
        try:
            parse_nameserver(entry)
        except ValueError as exc:
            issues.append(
                ConfigIssue(source, None, f"dns.nameservers[{index}]", str(exc))
            )
    if issues:
        raise ConfigError(issues)
    log.debug("DNS mode system, name servers: %s", dns.nameservers or "the machine's")
    return SystemResolver(
        timeout=dns.timeout_seconds,
        attempts=dns.attempts,
        nameservers=dns.nameservers or None,
    )
