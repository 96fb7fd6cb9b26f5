"""The key lookup seam: where DKIM public keys come from.

Verification asks a :class:`KeyResolver` for the TXT records of a name such as
``sel._domainkey.example.vn``. Two resolvers exist, chosen by ``dns.mode``:

- :class:`SystemResolver` asks DNS (dnspython's asyncio resolver), with a bounded
  number of tries; a timeout or SERVFAIL after them raises
  :class:`~mailbridge.errors.VerificationUnavailable` so the message is retried
  later instead of being rejected.
- :class:`StaticResolver` answers from ``dns.static_records`` in the config, for
  closed networks and tests.

Either answers ``None`` when the name has no TXT record (NXDOMAIN or NODATA).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from mailbridge.errors import VerificationUnavailable

if TYPE_CHECKING:
    from mailbridge.config.schema import DnsConfig

__all__ = [
    "KeyResolver",
    "StaticResolver",
    "SystemResolver",
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


class SystemResolver:
    """TXT lookups through DNS, bounded in time and in number of tries."""

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
        self.nameservers = tuple(nameservers) if nameservers else None
        self.port = port
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
                resolver.nameservers = list(self.nameservers)
                resolver.port = self.port
            resolver.timeout = self.timeout
            resolver.lifetime = self.timeout
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
                    lifetime=self.timeout,
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


def resolver_from_config(dns: DnsConfig) -> KeyResolver:
    """The resolver that the ``dns`` section of ``mailbridge.yaml`` asks for."""
    if dns.mode == "static":
        return StaticResolver(dns.static_records)
    return SystemResolver(timeout=dns.timeout_seconds, attempts=dns.attempts)
