"""DKIM verification with alignment to the From domain.

Every ``DKIM-Signature`` header is checked with dkimpy (``dkim.DKIM``), one index
at a time, so that "no signature" (``DKIM_MISSING``) and "a bad signature"
(``DKIM_FAIL``) stay apart. The public keys are fetched first, asynchronously,
through the configured :class:`~mailbridge.verify.dns.KeyResolver`; dkimpy then
runs in a worker thread with a lookup function that only serves those answers.

- RSA-SHA256 and Ed25519-SHA256 (RFC 8463) are accepted.
- RSA-SHA1 verifies but is *weak*: it never makes a message pass.
- ``l=`` that leaves part of the body unsigned counts as a failure.
- A DNS temporary failure raises :class:`~mailbridge.errors.VerificationUnavailable`;
  it is never a fail result.
- Alignment is DMARC-relaxed: ``d=example.vn`` aligns with ``mail.example.vn``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import dkim
from dkim.canonicalization import (
    CanonicalizationPolicy,
    InvalidCanonicalizationPolicyError,
)
from dkim.util import InvalidTagValueList, parse_tag_value

from mailbridge.verify.dns import KeyResolver

__all__ = [
    "MAX_SIGNATURES",
    "DkimResult",
    "DkimSignatureResult",
    "aligned",
    "verify_dkim",
]

log = logging.getLogger("mailbridge.verify")
_dkimpy_log = logging.getLogger("mailbridge.verify.dkimpy")

#: Signatures checked per message; more are ignored (each costs a DNS lookup).
MAX_SIGNATURES = 8

_LABELS = re.compile(
    r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$"
)
_STRONG = frozenset({"rsa-sha256", "ed25519-sha256"})


def _ascii_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def aligned(signing_domain: str, from_domain: str) -> bool:
    """DMARC relaxed alignment: the From domain is ``d=`` or a subdomain of it.

    A one-label ``d=`` (a top-level domain) never aligns.
    """
    d = _ascii_domain(signing_domain)
    f = _ascii_domain(from_domain)
    if not d or not f or "." not in d:
        return False
    return f == d or f.endswith("." + d)


@dataclass(frozen=True)
class DkimSignatureResult:
    """The check of one ``DKIM-Signature`` header."""

    domain: str
    selector: str
    algorithm: str
    passed: bool
    aligned: bool
    weak: bool
    partial_body: bool
    detail: str

    @property
    def ok(self) -> bool:
        """Verified, strong and aligned with the From domain."""
        return self.passed and self.aligned and not self.weak

    @property
    def result(self) -> str:
        """The RFC 8601 ``dkim=`` value of this signature."""
        if self.passed:
            return "policy" if self.weak else "pass"
        return "fail"

    def as_json(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "domain": self.domain,
            "selector": self.selector,
            "algorithm": self.algorithm,
            "aligned": self.aligned,
            "weak": self.weak,
            "partial_body": self.partial_body,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class DkimResult:
    """Every DKIM signature of a message, and what they add up to."""

    present: bool
    passed: bool
    aligned: bool
    domain: str | None
    selector: str | None
    detail: str
    signatures: tuple[DkimSignatureResult, ...] = ()

    @property
    def ok(self) -> bool:
        """Some signature passed, is strong and aligns with the From domain."""
        return any(s.ok for s in self.signatures)

    @property
    def result(self) -> str:
        """``pass``, ``fail``, ``none``, or ``policy`` (verified but weak or unaligned)."""
        if not self.present:
            return "none"
        if self.ok:
            return "pass"
        if any(s.passed for s in self.signatures):
            return "policy"
        return "fail"

    def as_json(self) -> dict[str, Any]:
        """The ``dkim`` object of a document (SPEC section 2), with details."""
        return {
            "result": self.result,
            "domain": self.domain,
            "selector": self.selector,
            "aligned": self.aligned,
            "detail": self.detail,
            "signatures": [s.as_json() for s in self.signatures],
        }

    def authentication_results(self, authserv_id: str) -> str:
        """An RFC 8601 ``Authentication-Results`` value, one ``dkim=`` per signature."""
        if not self.signatures:
            return f"{authserv_id}; dkim=none"
        parts = [authserv_id]
        for sig in self.signatures:
            item = f"dkim={sig.result}"
            if sig.result != "pass":
                item += f' reason="{_quoted(sig.detail)}"'
            item += f" header.d={sig.domain or 'unknown'}"
            if sig.selector:
                item += f" header.s={sig.selector}"
            if sig.algorithm:
                item += f" header.a={sig.algorithm}"
            parts.append(item)
        return "; ".join(parts)


def _quoted(text: str) -> str:
    clean = "".join(c if c.isprintable() and c not in '"\\' else " " for c in text)
    return clean[:120]


@dataclass(frozen=True)
class _Header:
    index: int
    tags: dict[bytes, bytes] | None
    domain: str
    selector: str
    key_name: str | None


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("ascii", "replace").strip()


_SIGNATURE_LINE = re.compile(rb"(?im)^dkim-signature[ \t]*:")


def _read_headers(raw: bytes) -> list[_Header]:
    try:
        signer = dkim.DKIM(raw, logger=_dkimpy_log)
    except (dkim.DKIMException, IndexError):
        # The header block itself is broken; a signature in it cannot be checked.
        head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
        if _SIGNATURE_LINE.search(head):
            return [_Header(0, None, "", "", None)]
        return []
    values = [v for k, v in signer.headers if k.lower() == b"dkim-signature"]
    headers = []
    for index, value in enumerate(values[:MAX_SIGNATURES]):
        try:
            tags: dict[bytes, bytes] | None = parse_tag_value(value)
        except InvalidTagValueList:
            tags = None
        domain = _text((tags or {}).get(b"d")).lower()
        selector = _text((tags or {}).get(b"s")).lower()
        key_name = None
        if _LABELS.match(domain) and _LABELS.match(selector):
            key_name = f"{selector}._domainkey.{domain}"
        headers.append(_Header(index, tags, domain, selector, key_name))
    return headers


def _pick_record(records: list[bytes] | None) -> bytes | None:
    if not records:
        return None
    for record in records:
        if record.lstrip().startswith(b"v=DKIM1"):
            return record
    return records[0]


def _check_one(
    raw: bytes, header: _Header, keys: dict[str, bytes | None], from_domain: str | None
) -> DkimSignatureResult:
    tags = header.tags or {}
    algorithm = _text(tags.get(b"a")).lower()
    weak = algorithm == "rsa-sha1"
    is_aligned = bool(from_domain) and aligned(header.domain, from_domain or "")

    def result(
        *, passed: bool, detail: str, partial: bool = False
    ) -> DkimSignatureResult:
        return DkimSignatureResult(
            header.domain,
            header.selector,
            algorithm,
            passed,
            is_aligned,
            weak,
            partial,
            detail,
        )

    if header.tags is None:
        return result(passed=False, detail="unreadable DKIM-Signature or header block")
    if header.key_name is None:
        return result(passed=False, detail="DKIM-Signature without a valid d= or s=")
    record = keys.get(header.key_name)
    if record is None:
        return result(passed=False, detail=f"no DKIM key record at {header.key_name}")
    try:
        dkim.evaluate_pk(header.key_name, record)
    except dkim.DKIMException as exc:
        return result(passed=False, detail=f"unusable key at {header.key_name}: {exc}")

    def served(name: bytes, timeout: int = 5) -> bytes | None:
        del timeout  # the answer is already here
        return keys.get(name.decode("ascii", "replace").rstrip(".").lower())

    verifier = dkim.DKIM(raw, logger=_dkimpy_log)
    try:
        verified = bool(verifier.verify(idx=header.index, dnsfunc=served))
    except dkim.DKIMException as exc:
        return result(passed=False, detail=str(exc) or type(exc).__name__)
    if not verified:
        return result(passed=False, detail="signature verification failed")
    if b"l" in tags:
        try:
            canon = CanonicalizationPolicy.from_c_value(
                tags.get(b"c", b"simple/simple")
            )
        except InvalidCanonicalizationPolicyError:
            return result(passed=False, detail="invalid c= value")
        total = len(canon.canonicalize_body(verifier.body))
        signed = int(tags[b"l"])
        if total > signed:
            return result(
                passed=False,
                partial=True,
                detail=f"l={signed} leaves {total - signed} bytes of the body unsigned",
            )
    if weak:
        return result(
            passed=True, detail="verified, but rsa-sha1 is too weak to accept"
        )
    if algorithm not in _STRONG:
        return result(passed=False, detail=f"unsupported algorithm {algorithm}")
    if not is_aligned:
        return result(
            passed=True,
            detail=f"verified, but d={header.domain} is not aligned with From",
        )
    return result(passed=True, detail="verified")


def _rank(sig: DkimSignatureResult) -> tuple[bool, bool, bool]:
    return (sig.ok, sig.passed and not sig.weak, sig.passed)


async def verify_dkim(
    raw: bytes, from_domain: str | None, resolver: KeyResolver
) -> DkimResult:
    """Check every DKIM signature of ``raw`` against the From domain."""
    headers = await asyncio.to_thread(_read_headers, raw)
    if not headers:
        return DkimResult(
            present=False,
            passed=False,
            aligned=False,
            domain=None,
            selector=None,
            detail="no DKIM-Signature header",
        )
    names = sorted({h.key_name for h in headers if h.key_name})
    answers = await asyncio.gather(*(resolver.txt(n) for n in names))
    keys = {n: _pick_record(a) for n, a in zip(names, answers, strict=True)}

    def check_all() -> tuple[DkimSignatureResult, ...]:
        return tuple(_check_one(raw, h, keys, from_domain) for h in headers)

    signatures = await asyncio.to_thread(check_all)
    best = max(signatures, key=_rank)
    for sig in signatures:
        log.debug(
            "dkim d=%s s=%s a=%s: %s",
            sig.domain,
            sig.selector,
            sig.algorithm,
            sig.detail,
        )
    return DkimResult(
        present=True,
        passed=best.passed,
        aligned=best.aligned,
        domain=best.domain or None,
        selector=best.selector or None,
        detail=best.detail,
        signatures=signatures,
    )
