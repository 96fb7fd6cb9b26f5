"""The agency register: who may send documents to the bridge (``agencies.yaml``).

An agency is found by the exact sending address, else by the address's domain among
its ``domains`` (exact match: a subdomain matches only when listed itself), or by the
fingerprint of the OpenPGP key that signed a message. Codes are kept as opaque strings;
:func:`code_form` tells the legacy form (``000.00.00.G22``) from the new one
(``G12.18.C8``), DOMAIN.md section 7.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from mailbridge.config.loader import address_problem
from mailbridge.config.schema import AgencyConfig
from mailbridge.config.yamlpos import (
    KeyPath,
    format_key,
    line_of,
    load_yaml_with_lines,
    validation_issues,
)
from mailbridge.errors import ConfigError, ConfigIssue

__all__ = ["Agency", "AgencyRegister", "code_form"]

_LEGACY_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
_NEW_CODE = re.compile(r"^(?=.{3,35}$)[A-Z]\d{2}(\.[0-9A-Z]{1,3})*$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$"
)
_FINGERPRINT = re.compile(r"^([0-9A-F]{40}|[0-9A-F]{64})$")


def code_form(code: str) -> Literal["legacy", "new", "unknown"]:
    """Which form an agency identifier code is in (DOMAIN.md section 7)."""
    if _LEGACY_CODE.match(code):
        return "legacy"
    if _NEW_CODE.match(code):
        return "new"
    return "unknown"


@dataclass(frozen=True)
class Agency:
    """One registered agency; addresses and domains lower-case, fingerprints upper."""

    code: str
    name: str
    addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    pgp_fingerprints: tuple[str, ...] = ()

    @property
    def form(self) -> Literal["legacy", "new", "unknown"]:
        """The form of :attr:`code`."""
        return code_form(self.code)

    @classmethod
    def from_config(cls, config: AgencyConfig) -> Agency:
        """The agency an ``agencies.yaml`` entry describes."""
        return cls(
            code=config.code.strip(),
            name=config.name.strip(),
            addresses=tuple(config.addresses),
            domains=tuple(config.domains),
            pgp_fingerprints=tuple(config.pgp_fingerprints),
        )


def _address_key(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


class AgencyRegister:
    """The agencies, indexed by code, address, domain and PGP fingerprint.

    Raises :class:`ValueError` when two agencies share a code, an address, a domain
    or a fingerprint (:meth:`from_file` reports those as :class:`ConfigError`).
    """

    def __init__(self, agencies: Iterable[Agency] = ()) -> None:
        self._agencies = tuple(agencies)
        self._by_code: dict[str, Agency] = {}
        self._by_address: dict[str, Agency] = {}
        self._by_domain: dict[str, Agency] = {}
        self._by_fingerprint: dict[str, Agency] = {}
        for agency in self._agencies:
            for index, keys in (
                (self._by_code, [agency.code.upper()]),
                (self._by_address, [_address_key(a) for a in agency.addresses]),
                (self._by_domain, [d.lower() for d in agency.domains]),
                (self._by_fingerprint, list(agency.pgp_fingerprints)),
            ):
                for key in keys:
                    other = index.setdefault(key, agency)
                    if other is not agency:
                        raise ValueError(
                            f"{key} belongs to {other.code} and {agency.code}"
                        )

    @classmethod
    def from_file(cls, path: Path) -> AgencyRegister:
        """Read ``agencies.yaml``; :class:`ConfigError` lists every problem in it."""
        data, lines = load_yaml_with_lines(path)
        checker = _Checker(str(path), lines)
        agencies = checker.check(data)
        if checker.issues:
            raise ConfigError(
                sorted(checker.issues, key=lambda i: (i.line is None, i.line or 0))
            )
        return cls(agencies)

    def lookup(self, address: str | None) -> Agency | None:
        """The agency of a sending address: exact address first, then its domain."""
        if not address:
            return None
        key = _address_key(address)
        found = self._by_address.get(key)
        if found is None and "@" in key:
            found = self._by_domain.get(key.rpartition("@")[2])
        return found

    def by_code(self, code: str) -> Agency | None:
        """The agency with this identifier code."""
        return self._by_code.get(code.strip().upper())

    def by_fingerprint(self, fingerprint: str) -> Agency | None:
        """The agency that registered this OpenPGP key fingerprint (any spacing/case)."""
        return self._by_fingerprint.get(fingerprint.replace(" ", "").upper())

    def __len__(self) -> int:
        return len(self._agencies)

    def __iter__(self) -> Iterator[Agency]:
        return iter(self._agencies)


class _Checker:
    """Validates the raw ``agencies.yaml`` data and collects every issue."""

    def __init__(self, file: str, lines: dict[KeyPath, int]) -> None:
        self.file = file
        self.lines = lines
        self.issues: list[ConfigIssue] = []
        self.first: dict[tuple[str, str], tuple[str, KeyPath]] = {}

    def issue(self, loc: KeyPath, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.file, line_of(self.lines, loc), format_key(loc), message)
        )

    def check(self, data: Any) -> list[Agency]:
        if data is None:
            return []
        if not isinstance(data, dict):
            self.issue((), "the file must be a mapping with the key agencies:")
            return []
        for key in data:
            if key != "agencies":
                self.issue((key,), "unknown key (the file holds only agencies:)")
        entries = data.get("agencies") or []
        if not isinstance(entries, list):
            self.issue(("agencies",), "must be a list of agencies")
            return []
        agencies = []
        for index, entry in enumerate(entries):
            try:
                config = AgencyConfig.model_validate(entry)
            except ValidationError as exc:
                self.issues += validation_issues(
                    self.file,
                    exc,
                    self.lines,
                    prefix=("agencies", index),
                    model=AgencyConfig,
                )
                continue
            agency = Agency.from_config(config)
            self.agency(agency, ("agencies", index))
            agencies.append(agency)
        return agencies

    def claim(self, kind: str, value: str, agency: Agency, loc: KeyPath) -> None:
        """Report ``value`` when an earlier entry already holds it."""
        owner, first = self.first.setdefault((kind, value), (agency.code, loc))
        if first != loc:
            line = line_of(self.lines, first)
            where = f" (line {line})" if line is not None else ""
            self.issue(
                loc, f"{kind} {value} is already claimed by agency {owner}{where}"
            )

    def agency(self, agency: Agency, loc: KeyPath) -> None:
        if code_form(agency.code) == "unknown":
            self.issue(
                (*loc, "code"),
                f"not an agency identifier code: {agency.code!r} (legacy form 000.00.00.A32 or new form A32.01.07)",
            )
        if not agency.name:
            self.issue((*loc, "name"), "must not be empty")
        self.claim("code", agency.code.upper(), agency, (*loc, "code"))
        for i, address in enumerate(agency.addresses):
            if (problem := address_problem(address)) is not None:
                self.issue((*loc, "addresses", i), problem)
            self.claim("address", address, agency, (*loc, "addresses", i))
        for i, domain in enumerate(agency.domains):
            if not _DOMAIN.match(domain):
                self.issue((*loc, "domains", i), f"not a domain name: {domain!r}")
            self.claim("domain", domain, agency, (*loc, "domains", i))
        for i, fingerprint in enumerate(agency.pgp_fingerprints):
            if not _FINGERPRINT.match(fingerprint):
                self.issue(
                    (*loc, "pgp_fingerprints", i),
                    "not an OpenPGP fingerprint (40 or 64 hex digits)",
                )
            self.claim(
                "fingerprint", fingerprint, agency, (*loc, "pgp_fingerprints", i)
            )
