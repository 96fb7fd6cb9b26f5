"""The Bridge: one frozen bundle of settings and services, built once (STYLE rule 11).

``build_bridge`` is the only place that turns a configuration into live objects; the
service, the CLI and the tests all call it, so two bridges can run in one process.
Agencies and rules live in :class:`LiveConfig`, the one mutable holder, swapped as a
whole on SIGHUP after the new files validated.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from mailbridge.clock import Clock, SystemClock
from mailbridge.config.agencies import AgencyRegister
from mailbridge.config.schema import Settings
from mailbridge.errors import ConfigError, ConfigIssue
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.policy.rules import RuleSet, load_rules
from mailbridge.register.db import connect
from mailbridge.register.files import FileStore
from mailbridge.reply.compose import BridgeIdentity
from mailbridge.reply.render import Renderer
from mailbridge.spool import Spool
from mailbridge.verify.clamav import ClamdScanner
from mailbridge.verify.dns import KeyResolver, resolver_from_config
from mailbridge.verify.pdf_trust import PdfTrust

__all__ = ["Bridge", "LiveConfig", "build_bridge", "load_live_config"]

log = logging.getLogger("mailbridge")


@dataclass
class LiveConfig:
    """What SIGHUP reloads: the agency register and the rules."""

    agencies: AgencyRegister
    rules: RuleSet


@dataclass(frozen=True)
class Bridge:
    settings: Settings
    engine: Engine
    spool: Spool
    files: FileStore
    live: LiveConfig
    resolver: KeyResolver
    pdf_trust: PdfTrust
    renderer: Renderer
    identity: BridgeIdentity
    clock: Clock
    scanner: ClamdScanner | None
    dkim_signer: DkimSigner | None
    node: str

    @property
    def data_dir(self) -> Path:
        return self.settings.bridge.data_dir


def load_live_config(settings: Settings) -> LiveConfig:
    """Load agencies and rules; ConfigError lists every problem of both."""
    issues: list[ConfigIssue] = []
    agencies: AgencyRegister | None = None
    rules: RuleSet | None = None
    try:
        agencies = AgencyRegister.from_file(settings.agencies_file)
    except ConfigError as exc:
        issues.extend(exc.issues)
    try:
        rules = load_rules(settings.rules_dir)
    except ConfigError as exc:
        issues.extend(exc.issues)
    if issues or agencies is None or rules is None:
        raise ConfigError(issues)
    return LiveConfig(agencies=agencies, rules=rules)


def templates_dir(settings: Settings) -> Path:
    if settings.templates_dir is not None:
        return settings.templates_dir
    base = settings.config_file.parent if settings.config_file else Path.cwd()
    return base.parent / "templates"


def build_bridge(settings: Settings, *, clock: Clock | None = None) -> Bridge:
    """Every service the configuration describes, ready to use (schema not migrated)."""
    clock = clock or SystemClock()
    data_dir = settings.bridge.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    base = settings.config_file.parent if settings.config_file else Path.cwd()
    dkim = settings.outbound.dkim
    signer = (
        DkimSigner.from_file(dkim.domain, dkim.selector, dkim.private_key_file)
        if dkim is not None
        else None
    )
    scanner = (
        ClamdScanner(settings.clamav.address, timeout=settings.clamav.timeout_seconds)
        if settings.clamav.enabled
        else None
    )
    return Bridge(
        settings=settings,
        engine=connect(settings.database.url),
        spool=Spool(data_dir / "spool", max_attempts=settings.worker.max_attempts),
        files=FileStore(data_dir / "files"),
        live=load_live_config(settings),
        resolver=resolver_from_config(settings.dns),
        pdf_trust=PdfTrust.from_config(
            settings.trust.pdf_roots,
            base_dir=base,
            crl_dir=settings.trust.crl_dir,
            fetch_revocation=settings.trust.fetch_revocation,
        ),
        renderer=Renderer(templates_dir(settings)),
        identity=BridgeIdentity(
            name=settings.bridge.name,
            from_address=settings.outbound.from_address,
            domain=settings.bridge.domain,
        ),
        clock=clock,
        scanner=scanner,
        dkim_signer=signer,
        node=socket.gethostname(),
    )
