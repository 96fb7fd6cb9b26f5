"""Typed, frozen, strict models of ``mailbridge.yaml`` and ``agencies.yaml``.

The keys of SPEC.md section 3 are the fixed core. Keys mailbridge adds are marked
"(mailbridge)" and documented in the README. A key no model knows is an error.
Paths are already absolute here: the loader resolves them against the folder of the
file that names them, and resolves ``*_env``/``*_file`` secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "AgenciesFile",
    "AgencyConfig",
    "ApiConfig",
    "AttachmentsConfig",
    "BridgeConfig",
    "ClamavConfig",
    "ClassificationConfig",
    "DatabaseConfig",
    "DkimKeyConfig",
    "DnsConfig",
    "ImapConfig",
    "NumberingConfig",
    "OutboundConfig",
    "PolicyConfig",
    "Settings",
    "SmtpConfig",
    "TlsConfig",
    "TrustConfig",
    "WorkerConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BridgeConfig(_Strict):
    name: str
    agency_code: str
    domain: str
    addresses: list[str] = Field(min_length=1)
    timezone: str = "Asia/Ho_Chi_Minh"
    data_dir: Path

    @field_validator("addresses")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"not an e-mail address: {address!r}")
        return [a.strip().lower() for a in value]


class TlsConfig(_Strict):
    cert_file: Path
    key_file: Path


class SmtpConfig(_Strict):
    listen: list[str] = Field(default_factory=lambda: ["127.0.0.1:2525"])
    max_message_bytes: int = Field(default=26_214_400, gt=0)
    tls: TlsConfig | None = None
    require_tls: bool = False


class DkimKeyConfig(_Strict):
    domain: str
    selector: str
    private_key_file: Path


class OutboundConfig(_Strict):
    smarthost: str = "127.0.0.1:2526"
    from_address: str
    dkim: DkimKeyConfig | None = None
    #: (mailbridge) seconds before the first retry when the smarthost is down;
    #: doubles each time up to ``retry_max_seconds``
    retry_initial_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)
    #: (mailbridge) give up on a reply after this many hours of temporary failures
    retry_give_up_hours: float = Field(default=72.0, gt=0)
    #: (mailbridge) optional PGP/MIME signing of replies with the bridge's key
    pgp_home: Path | None = None
    pgp_key: str | None = None
    pgp_passphrase: str | None = None


class DatabaseConfig(_Strict):
    url: str


class TrustConfig(_Strict):
    pdf_roots: list[str] = Field(default_factory=list)
    pgp_keyring: Path | None = None
    #: (mailbridge) folder of offline CRLs (DER or PEM) used for PDF validation
    crl_dir: Path | None = None
    #: (mailbridge) let PDF validation fetch OCSP/CRL over the network
    fetch_revocation: bool = False


class DnsConfig(_Strict):
    mode: Literal["system", "static"] = "system"
    static_records: dict[str, str] = Field(default_factory=dict)
    #: (mailbridge) seconds per DNS query and number of tries before "temporary"
    timeout_seconds: float = Field(default=5.0, gt=0)
    attempts: int = Field(default=3, ge=1)
    #: (mailbridge) name servers for ``mode: system``, "HOST" or "HOST:PORT" (HOST an
    #: IP address, IPv6 as "[::1]:53"); empty: the machine's resolver
    nameservers: list[str] = Field(default_factory=list)


class PolicyConfig(_Strict):
    require_dkim: bool = True
    unsigned_documents: Literal["accept_as_reference", "reject"] = "accept_as_reference"


class ApiConfig(_Strict):
    listen: str = "127.0.0.1:8080"
    token_env: str = "MAILBRIDGE_API_TOKEN"  # noqa: S105 - a variable name, not a secret
    #: (mailbridge) the token itself, resolved by the loader from ``token_env``
    token: str | None = None


class ImapConfig(_Strict):
    name: str
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    user: str
    password: str | None = None
    folder: str = "INBOX"
    after: str = "move:Processed"
    #: (mailbridge) seconds between polls when IDLE is not used
    poll_seconds: float = Field(default=10.0, gt=0)

    @field_validator("after")
    @classmethod
    def _after(cls, value: str) -> str:
        if value != "flag" and not (value.startswith("move:") and len(value) > 5):
            raise ValueError('must be "flag" or "move:FOLDER"')
        return value


class WorkerConfig(_Strict):
    """(mailbridge) the spool worker."""

    concurrency: int = Field(default=1, ge=1)
    #: accept and spool mail but do not process it (maintenance: a database or
    #: trust-store change); restart with ``false`` and the spool is processed
    paused: bool = False
    #: attempts before a message that crashes the pipeline is quarantined
    max_attempts: int = Field(default=3, ge=1)
    #: seconds before a message delayed by a temporary failure is tried again
    retry_seconds: float = Field(default=30.0, gt=0)
    #: give up waiting on temporary failures after this many hours (then held)
    retry_give_up_hours: float = Field(default=24.0, gt=0)


class NumberingConfig(_Strict):
    """(mailbridge) the register book incoming documents are numbered in."""

    book: str = "VBDEN"


class ClassificationConfig(_Strict):
    """(mailbridge) the classification gate; it cannot be switched off."""

    ocr: bool = True
    ocr_languages: str = "vie+eng"


class ClamavConfig(_Strict):
    """(mailbridge) optional virus scanning through clamd."""

    enabled: bool = False
    #: "unix:/path/to/clamd.ctl" or "HOST:PORT"
    address: str = "unix:/var/run/clamav/clamd.ctl"
    timeout_seconds: float = Field(default=30.0, gt=0)


class AttachmentsConfig(_Strict):
    """(mailbridge) attachment policy."""

    max_attachment_bytes: int = Field(default=20_971_520, gt=0)
    max_archive_members: int = Field(default=200, gt=0)
    max_archive_ratio: float = Field(default=100.0, gt=1)
    max_archive_bytes: int = Field(default=104_857_600, gt=0)
    banned_extensions: list[str] = Field(default_factory=list)


class Settings(_Strict):
    """The whole of ``mailbridge.yaml``, paths resolved, secrets read."""

    bridge: BridgeConfig
    smtp: SmtpConfig = SmtpConfig()
    outbound: OutboundConfig
    database: DatabaseConfig
    trust: TrustConfig = TrustConfig()
    dns: DnsConfig = DnsConfig()
    policy: PolicyConfig = PolicyConfig()
    agencies_file: Path
    rules_dir: Path
    #: (mailbridge) folder of the jinja2 reply templates; default ``templates``
    #: beside the config folder
    templates_dir: Path | None = None
    api: ApiConfig = ApiConfig()
    imap: list[ImapConfig] = Field(default_factory=list)
    security_contact: str | None = None
    worker: WorkerConfig = WorkerConfig()
    numbering: NumberingConfig = NumberingConfig()
    classification: ClassificationConfig = ClassificationConfig()
    clamav: ClamavConfig = ClamavConfig()
    attachments: AttachmentsConfig = AttachmentsConfig()
    #: (mailbridge) the file this was loaded from
    config_file: Path | None = None


class AgencyConfig(_Strict):
    code: str
    name: str
    addresses: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    pgp_fingerprints: list[str] = Field(default_factory=list)

    @field_validator("addresses", "domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]

    @field_validator("pgp_fingerprints")
    @classmethod
    def _fingerprints(cls, value: list[str]) -> list[str]:
        return [v.replace(" ", "").upper() for v in value]


class AgenciesFile(_Strict):
    agencies: list[AgencyConfig] = Field(default_factory=list)
