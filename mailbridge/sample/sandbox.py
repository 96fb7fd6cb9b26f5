"""A complete throwaway bridge setup in one folder, for the demo and the tests.

``make_sandbox`` writes a test CA chain (marked TEST), DKIM keys for the bridge and for
one fictional agency, ``agencies.yaml`` and ``mailbridge.yaml`` with free loopback
ports and static DNS records, so a bridge can run with no network and no admin.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mailbridge.keys import generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.pki import TestPki, make_test_pki

__all__ = ["AGENCY", "BRIDGE_ADDRESS", "Sandbox", "free_port", "make_sandbox"]

BRIDGE_DOMAIN = "bridge.example.vn"
BRIDGE_ADDRESS = f"vanthu@{BRIDGE_DOMAIN}"
SECURITY_CONTACT = f"antoan@{BRIDGE_DOMAIN}"
AGENCY_DOMAIN = "phanrang.example.vn"
AGENCY_ADDRESS = f"vanthu@{AGENCY_DOMAIN}"
AGENCY: dict[str, Any] = {
    "code": "A32.01.07",
    "name": "Đảng ủy phường Phan Rang (TEST)",
    "addresses": [AGENCY_ADDRESS],
    "domains": [AGENCY_DOMAIN],
    "pgp_fingerprints": [],
}
AGENCY_SELECTOR = "mail"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Sandbox:
    root: Path
    config_file: Path
    data_dir: Path
    smtp_port: int
    smarthost_port: int
    pki: TestPki
    agency_signer: DkimSigner
    bridge_signer: DkimSigner
    dns_records: dict[str, str]

    @property
    def bridge_address(self) -> str:
        return BRIDGE_ADDRESS

    @property
    def agency_address(self) -> str:
        return AGENCY_ADDRESS

    def config(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.config_file.read_text("utf-8"))
        assert isinstance(loaded, dict)
        return loaded

    def write_config(self, data: dict[str, Any]) -> None:
        self.config_file.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def make_sandbox(
    root: Path,
    *,
    templates_dir: Path,
    rules_dir: Path,
    database_url: str | None = None,
    pki: TestPki | None = None,
    overrides: dict[str, Any] | None = None,
) -> Sandbox:
    """Write everything a bridge needs under ``root``; ``overrides`` merge per section."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "config"
    conf.mkdir(exist_ok=True)
    pki = pki or make_test_pki(root / "trust")
    bridge_key = generate_dkim_key(
        conf / "keys", domain=BRIDGE_DOMAIN, selector="mb2026"
    )
    agency_domain = AGENCY_DOMAIN
    agency_key = generate_dkim_key(
        root / "agency-keys", domain=agency_domain, selector=AGENCY_SELECTOR
    )
    records = {
        bridge_key.dns_name: bridge_key.txt_record,
        agency_key.dns_name: agency_key.txt_record,
    }
    (conf / "agencies.yaml").write_text(
        yaml.safe_dump({"agencies": [AGENCY]}, allow_unicode=True), "utf-8"
    )
    smtp_port, smarthost_port = free_port(), free_port()
    data_dir = root / "var"
    config: dict[str, Any] = {
        "bridge": {
            "name": "Văn phòng Tỉnh ủy (TEST) — cổng thư công vụ",
            "agency_code": "A32.01",
            "domain": BRIDGE_DOMAIN,
            "addresses": [BRIDGE_ADDRESS],
            "timezone": "Asia/Ho_Chi_Minh",
            "data_dir": str(data_dir),
        },
        "smtp": {"listen": [f"127.0.0.1:{smtp_port}"], "max_message_bytes": 10_485_760},
        "outbound": {
            "smarthost": f"127.0.0.1:{smarthost_port}",
            "from_address": BRIDGE_ADDRESS,
            "dkim": {
                "domain": BRIDGE_DOMAIN,
                "selector": "mb2026",
                "private_key_file": str(bridge_key.private_key_file),
            },
            "retry_initial_seconds": 0.5,
            "retry_max_seconds": 2.0,
        },
        "database": {"url": database_url or f"sqlite:///{data_dir / 'mailbridge.db'}"},
        "trust": {"pdf_roots": [str(p) for p in pki.trust_pem_paths]},
        "dns": {"mode": "static", "static_records": records},
        "policy": {"require_dkim": True, "unsigned_documents": "accept_as_reference"},
        "agencies_file": "agencies.yaml",
        "rules_dir": str(rules_dir),
        "templates_dir": str(templates_dir),
        "security_contact": SECURITY_CONTACT,
        "worker": {"retry_seconds": 1.0},
    }
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    config_file = conf / "mailbridge.yaml"
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return Sandbox(
        root=root,
        config_file=config_file,
        data_dir=data_dir,
        smtp_port=smtp_port,
        smarthost_port=smarthost_port,
        pki=pki,
        agency_signer=DkimSigner.from_file(
            agency_domain, AGENCY_SELECTOR, agency_key.private_key_file
        ),
        bridge_signer=DkimSigner.from_file(
            BRIDGE_DOMAIN, "mb2026", bridge_key.private_key_file
        ),
        dns_records=records,
    )
