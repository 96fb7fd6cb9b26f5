"""DKIM verification with alignment, and the DNS key seam it reads keys through."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time

import dkim
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mailbridge.config.schema import DnsConfig
from mailbridge.errors import VerificationUnavailable
from mailbridge.keys import GeneratedKey, generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.verify.dkim import DkimResult, aligned, verify_dkim
from mailbridge.verify.dns import (
    KeyResolver,
    StaticResolver,
    SystemResolver,
    resolver_from_config,
)

DOMAIN = "phanrang.example.vn"
SELECTOR = "mb2026"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedKey]:
    folder = tmp_path_factory.mktemp("dkim-keys")
    return {
        alg: generate_dkim_key(
            folder / alg, domain=DOMAIN, selector=SELECTOR, algorithm=alg
        )
        for alg in ("rsa", "ed25519")
    }


def resolver_for(*generated: GeneratedKey, domain: str | None = None) -> StaticResolver:
    records = {}
    for key in generated:
        name = key.dns_name if domain is None else f"{SELECTOR}._domainkey.{domain}"
        records[name] = key.txt_record
    return StaticResolver(records)


def mail(sender: str = f"vanthu@{DOMAIN}") -> bytes:
    return to_bytes(document_mail(sender=sender))


def dkimpy_sign(
    raw: bytes,
    key: GeneratedKey,
    *,
    domain: str = DOMAIN,
    algorithm: bytes = b"rsa-sha256",
    length: bool = False,
) -> bytes:
    pem = key.private_key_file.read_bytes()
    if algorithm == b"ed25519-sha256":
        private = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(private, Ed25519PrivateKey)
        seed = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        pem = base64.b64encode(seed)
    header: bytes = dkim.DKIM(raw).sign(
        SELECTOR.encode(),
        domain.encode(),
        pem,
        signature_algorithm=algorithm,
        canonicalize=(b"relaxed", b"simple"),
        length=length,
    )
    return header + raw


def tamper(raw: bytes) -> bytes:
    """Change one byte of the PDF (the base64 of ``%PDF-1.4`` becomes ``%PDF-1.5``)."""
    assert b"JVBERi0xLjQK" in raw
    return raw.replace(b"JVBERi0xLjQK", b"JVBERi0xLjUK", 1)


def run(raw: bytes, from_domain: str | None, resolver: KeyResolver) -> DkimResult:
    return asyncio.run(verify_dkim(raw, from_domain, resolver))


@pytest.mark.parametrize(
    ("alg", "algorithm"), [("rsa", b"rsa-sha256"), ("ed25519", b"ed25519-sha256")]
)
def test_dkimpy_signed_mail_passes(
    keys: dict[str, GeneratedKey], alg: str, algorithm: bytes
) -> None:
    """A mail signed by dkimpy itself verifies, aligned, for RSA and Ed25519."""
    raw = dkimpy_sign(mail(), keys[alg], algorithm=algorithm)
    result = run(raw, DOMAIN, resolver_for(keys[alg]))
    expected = ("pass", True, DOMAIN, SELECTOR, algorithm.decode())
    actual = (
        result.result,
        result.ok,
        result.domain,
        result.selector,
        result.signatures[0].algorithm,
    )
    assert expected == actual


@pytest.mark.parametrize("alg", ["rsa", "ed25519"])
def test_our_signer_passes(keys: dict[str, GeneratedKey], alg: str) -> None:
    """A mail signed by DkimSigner verifies; the summary JSON says pass."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys[alg].private_key_file)
    result = run(signer.sign(mail()), DOMAIN, resolver_for(keys[alg]))
    expected = {"result": "pass", "domain": DOMAIN}
    actual = {k: result.as_json()[k] for k in ("result", "domain")}
    assert expected == actual


def test_changed_body_fails(keys: dict[str, GeneratedKey]) -> None:
    """One byte changed in the body after signing: the signature fails."""
    raw = tamper(dkimpy_sign(mail(), keys["rsa"]))
    result = run(raw, DOMAIN, resolver_for(keys["rsa"]))
    expected = (True, False, "fail", True)
    actual = (
        result.present,
        result.ok,
        result.result,
        result.detail.startswith("body hash mismatch"),
    )
    assert expected == actual


def test_no_signature_is_not_present(keys: dict[str, GeneratedKey]) -> None:
    """A mail without DKIM-Signature: present False, result none (DKIM_MISSING)."""
    result = run(mail(), DOMAIN, resolver_for(keys["rsa"]))
    expected = (False, False, "none", None, "bridge.example.vn; dkim=none")
    actual = (
        result.present,
        result.ok,
        result.result,
        result.domain,
        result.authentication_results("bridge.example.vn"),
    )
    assert expected == actual


def test_unaligned_domain_passes_but_is_not_ok(keys: dict[str, GeneratedKey]) -> None:
    """d=other.example.vn on a mail From phanrang.example.vn: verified, not aligned."""
    raw = dkimpy_sign(mail(), keys["rsa"], domain="other.example.vn")
    result = run(raw, DOMAIN, resolver_for(keys["rsa"], domain="other.example.vn"))
    expected = (
        True,
        False,
        False,
        "policy",
        "verified, but d=other.example.vn is not aligned with From",
    )
    actual = (result.passed, result.aligned, result.ok, result.result, result.detail)
    assert expected == actual


def test_parent_domain_aligns(keys: dict[str, GeneratedKey]) -> None:
    """d=phanrang.example.vn signs for From mail.phanrang.example.vn: aligned."""
    raw = dkimpy_sign(mail(f"vanthu@mail.{DOMAIN}"), keys["rsa"])
    result = run(raw, f"mail.{DOMAIN}", resolver_for(keys["rsa"]))
    expected = (True, True, True)
    actual = (result.passed, result.aligned, result.ok)
    assert expected == actual


def test_subdomain_signature_does_not_align_with_parent(
    keys: dict[str, GeneratedKey],
) -> None:
    """d=mail.phanrang.example.vn does not align with From phanrang.example.vn."""
    raw = dkimpy_sign(mail(), keys["rsa"], domain=f"mail.{DOMAIN}")
    result = run(raw, DOMAIN, resolver_for(keys["rsa"], domain=f"mail.{DOMAIN}"))
    expected = (True, False, False)
    actual = (result.passed, result.aligned, result.ok)
    assert expected == actual


@pytest.mark.parametrize(
    ("signing", "sender", "expected"),
    [
        ("example.vn", "example.vn", True),
        ("Example.VN.", "example.vn", True),
        ("example.vn", "mail.example.vn", True),
        ("mail.example.vn", "example.vn", False),
        ("ample.vn", "example.vn", False),
        ("vn", "example.vn", False),
        ("xn--h-sfa.vn", "hà.vn", True),
    ],
)
def test_aligned(signing: str, sender: str, expected: bool) -> None:
    """Relaxed alignment: same domain or parent; never a bare top-level domain."""
    assert expected == aligned(signing, sender)


def test_rsa_sha1_is_weak(keys: dict[str, GeneratedKey]) -> None:
    """An rsa-sha1 signature verifies but is weak, so the message is not ok."""
    raw = dkimpy_sign(mail(), keys["rsa"], algorithm=b"rsa-sha1")
    result = run(raw, DOMAIN, resolver_for(keys["rsa"]))
    expected = (
        True,
        True,
        False,
        "policy",
        "verified, but rsa-sha1 is too weak to accept",
    )
    actual = (
        result.passed,
        result.signatures[0].weak,
        result.ok,
        result.result,
        result.detail,
    )
    assert expected == actual


def test_length_tag_with_appended_content_fails(keys: dict[str, GeneratedKey]) -> None:
    """l= covering only the original body, then content appended: a failure."""
    footer = b"Unsigned footer\r\n"
    raw = dkimpy_sign(mail(), keys["rsa"], length=True) + footer
    result = run(raw, DOMAIN, resolver_for(keys["rsa"]))
    signature = result.signatures[0]
    expected = (False, True, False, "fail", True)
    actual = (
        signature.passed,
        signature.partial_body,
        result.ok,
        result.result,
        result.detail.endswith(f"leaves {len(footer)} bytes of the body unsigned"),
    )
    assert expected == actual


def test_length_tag_covering_whole_body_passes(keys: dict[str, GeneratedKey]) -> None:
    """l= equal to the whole body leaves nothing unsigned: the mail passes."""
    raw = dkimpy_sign(mail(), keys["rsa"], length=True)
    expected = "pass"
    actual = run(raw, DOMAIN, resolver_for(keys["rsa"])).result
    assert expected == actual


def test_missing_key_record_fails_with_clear_detail(
    keys: dict[str, GeneratedKey],
) -> None:
    """No TXT record for the selector: fail, and the detail names the record."""
    raw = dkimpy_sign(mail(), keys["rsa"])
    result = run(raw, DOMAIN, StaticResolver({}))
    expected = ("fail", f"no DKIM key record at {SELECTOR}._domainkey.{DOMAIN}")
    actual = (result.result, result.detail)
    assert expected == actual


def test_revoked_key_fails(keys: dict[str, GeneratedKey]) -> None:
    """An empty p= (a revoked key) fails with a detail about the key."""
    raw = dkimpy_sign(mail(), keys["rsa"])
    resolver = StaticResolver({keys["rsa"].dns_name: "v=DKIM1; k=rsa; p="})
    result = run(raw, DOMAIN, resolver)
    expected = ("fail", True)
    actual = (
        result.result,
        result.detail.startswith(f"unusable key at {keys['rsa'].dns_name}"),
    )
    assert expected == actual


def test_every_signature_is_checked(keys: dict[str, GeneratedKey]) -> None:
    """A broken first signature does not hide a good second one."""
    good = dkimpy_sign(mail(), keys["rsa"])
    broken = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.vn; s=x; b=AAAA\r\n"
    result = run(broken + good, DOMAIN, resolver_for(keys["rsa"]))
    expected = (["fail", "pass"], True, DOMAIN)
    actual = ([s.result for s in result.signatures], result.ok, result.domain)
    assert expected == actual


def test_authentication_results_value(keys: dict[str, GeneratedKey]) -> None:
    """The RFC 8601 value names result, domain, selector and algorithm."""
    raw = dkimpy_sign(mail(), keys["rsa"])
    result = run(raw, DOMAIN, resolver_for(keys["rsa"]))
    expected = (
        f"bridge.example.vn; dkim=pass header.d={DOMAIN} header.s={SELECTOR} "
        "header.a=rsa-sha256"
    )
    assert expected == result.authentication_results("bridge.example.vn")


def test_authentication_results_of_a_failure(keys: dict[str, GeneratedKey]) -> None:
    """A failed signature carries its reason, quoted."""
    raw = dkimpy_sign(mail(), keys["rsa"])
    result = run(raw, DOMAIN, StaticResolver({}))
    expected = (
        f'bridge.example.vn; dkim=fail reason="no DKIM key record at '
        f'{SELECTOR}._domainkey.{DOMAIN}" header.d={DOMAIN} header.s={SELECTOR} '
        "header.a=rsa-sha256"
    )
    assert expected == result.authentication_results("bridge.example.vn")


class SilentResolver:
    """A resolver that always reports DNS as unavailable."""

    async def txt(self, name: str) -> list[bytes] | None:
        raise VerificationUnavailable(f"timeout looking up {name}")


def test_dns_failure_is_unavailable_not_fail(keys: dict[str, GeneratedKey]) -> None:
    """A DNS temporary failure raises VerificationUnavailable, never a fail result."""
    raw = dkimpy_sign(mail(), keys["rsa"])
    with pytest.raises(VerificationUnavailable):
        asyncio.run(verify_dkim(raw, DOMAIN, SilentResolver()))


# --- the DNS seam -------------------------------------------------------------


class LoopbackDns:
    """A tiny UDP DNS server on 127.0.0.1 answering TXT queries from a dict."""

    def __init__(self, records: dict[str, str], *, servfail: bool = False) -> None:
        self.records = {k.lower(): v for k, v in records.items()}
        self.servfail = servfail
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.queries += 1
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text(omit_final_dot=True).lower()
            if self.servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
            elif name in self.records and question.rdtype == dns.rdatatype.TXT:
                value = self.records[name]
                chunks = " ".join(
                    f'"{value[i : i + 255]}"' for i in range(0, len(value), 255)
                )
                response.answer.append(
                    dns.rrset.from_text(question.name, 60, "IN", "TXT", chunks)
                )
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self) -> LoopbackDns:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def test_system_resolver_reads_loopback_server(keys: dict[str, GeneratedKey]) -> None:
    """SystemResolver against a loopback DNS server returns the whole record."""
    key = keys["rsa"]
    with LoopbackDns({key.dns_name: key.txt_record}) as server:
        resolver = SystemResolver(
            timeout=2, attempts=1, nameservers=["127.0.0.1"], port=server.port
        )
        answer = asyncio.run(resolver.txt(key.dns_name.upper() + "."))
        missing = asyncio.run(resolver.txt(f"nothere._domainkey.{DOMAIN}"))
    expected = ([key.txt_record.encode()], None)
    actual = (answer, missing)
    assert expected == actual


def test_verify_through_loopback_dns(keys: dict[str, GeneratedKey]) -> None:
    """The whole path: a signed mail verified with its key read over DNS."""
    key = keys["ed25519"]
    raw = DkimSigner.from_file(DOMAIN, SELECTOR, key.private_key_file).sign(mail())
    with LoopbackDns({key.dns_name: key.txt_record}) as server:
        resolver = SystemResolver(
            timeout=2, attempts=1, nameservers=["127.0.0.1"], port=server.port
        )
        result = asyncio.run(verify_dkim(raw, DOMAIN, resolver))
    expected = "pass"
    actual = result.result
    assert expected == actual


def test_system_resolver_times_out_within_bounds() -> None:
    """A server that never answers: VerificationUnavailable after the bounded tries."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        resolver = SystemResolver(
            timeout=0.3, attempts=2, nameservers=["127.0.0.1"], port=port
        )
        started = time.monotonic()
        with pytest.raises(VerificationUnavailable) as caught:
            asyncio.run(resolver.txt(f"{SELECTOR}._domainkey.{DOMAIN}"))
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert "after 2 tries" in str(caught.value)


def test_system_resolver_servfail_is_unavailable() -> None:
    """SERVFAIL on every try: VerificationUnavailable, one query per try."""
    with LoopbackDns({}, servfail=True) as server:
        resolver = SystemResolver(
            timeout=1, attempts=3, nameservers=["127.0.0.1"], port=server.port
        )
        with pytest.raises(VerificationUnavailable):
            asyncio.run(resolver.txt(f"{SELECTOR}._domainkey.{DOMAIN}"))
    expected = 3
    actual = server.queries
    assert expected == actual


def test_static_resolver_is_case_and_dot_insensitive() -> None:
    """Static records match whatever the case and a trailing dot."""
    resolver = StaticResolver({"Sel._DomainKey.Example.VN.": "v=DKIM1; p=AAAA"})
    answers = (
        asyncio.run(resolver.txt("sel._domainkey.example.vn")),
        asyncio.run(resolver.txt("other._domainkey.example.vn")),
    )
    expected = ([b"v=DKIM1; p=AAAA"], None)
    actual = answers
    assert expected == actual


def test_resolver_from_config() -> None:
    """dns.mode chooses the resolver; system mode takes timeout and attempts."""
    static = resolver_from_config(DnsConfig(mode="static", static_records={"a.b": "x"}))
    system = resolver_from_config(DnsConfig(timeout_seconds=1.5, attempts=2))
    assert isinstance(static, StaticResolver)
    assert isinstance(system, SystemResolver)
    expected = (1.5, 2)
    actual = (system.timeout, system.attempts)
    assert expected == actual


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"DKIM-Signature: v=1; d=a.vn\r\nno colon here\r\nFrom: a@a.vn\r\n\r\nx\r\n",
            "fail",
        ),
        (b"no colon here\r\nFrom: a@a.vn\r\n\r\nx\r\n", "none"),
    ],
)
def test_broken_header_block_is_a_result_not_a_crash(raw: bytes, expected: str) -> None:
    """A header line without a colon: fail if a signature is there, else none."""
    assert expected == run(raw, "a.vn", StaticResolver({})).result
