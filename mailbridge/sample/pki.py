"""A throwaway test PKI shaped like the government G2 chain, every name marked "(TEST)".

Used by the tests and by ``mailbridge demo``: a trusted root with the two sub-CAs of
DOMAIN.md section 9, a person and an organisation certificate under the Party sub-CA,
an expired person certificate under the State sub-CA, and a person under a separate,
untrusted root. Nothing here is a real key or a real fingerprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

__all__ = ["PkiEntity", "TestPki", "crl_url_of", "make_test_pki", "write_crl"]

ROOT_NAME = "RootCA chuyên dùng Chính phủ G2 (TEST)"
ROOT_ORG = "Ban Cơ yếu Chính phủ (TEST)"
STATE_CA_NAME = "CA phục vụ các cơ quan Nhà nước G2 (TEST)"
PARTY_CA_NAME = "CA phục vụ các cơ quan Đảng G2 (TEST)"
PERSON_NAME = "Nguyễn Văn An"
PERSON_TITLE = "Chánh Văn phòng"
ORGANISATION = "Văn phòng Tỉnh ủy Khánh Hòa (TEST)"
EXPIRED_NAME = "Trần Thị Bình"
EXPIRED_ORG = "Sở Nội vụ tỉnh Khánh Hòa (TEST)"
UNTRUSTED_ROOT_NAME = "Untrusted Root (TEST)"
UNTRUSTED_NAME = "Lê Văn Cường"
UNTRUSTED_ORG = "Cơ quan không rõ nguồn gốc (TEST)"


@dataclass(frozen=True)
class PkiEntity:
    """One certificate of the test PKI, its key, and the CA certificates above it."""

    name: str
    cert_path: Path
    key_path: Path
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey = field(repr=False)
    #: issuing CA certificates from the nearest up to the root (empty for a root)
    chain: tuple[Path, ...] = ()

    @property
    def not_valid_after(self) -> datetime:
        """End of the certificate's validity (aware, UTC)."""
        return self.certificate.not_valid_after_utc

    @property
    def not_valid_before(self) -> datetime:
        """Start of the certificate's validity (aware, UTC)."""
        return self.certificate.not_valid_before_utc


@dataclass(frozen=True)
class TestPki:
    """The whole test PKI; ``trust_pem_paths`` is what goes into ``trust.pdf_roots``."""

    __test__ = False  # a product class, not a pytest test class

    dest: Path
    root: PkiEntity
    state_ca: PkiEntity
    party_ca: PkiEntity
    person: PkiEntity
    organisation: PkiEntity
    expired_person: PkiEntity
    untrusted_root: PkiEntity
    untrusted_person: PkiEntity

    @property
    def trust_pem_paths(self) -> tuple[Path, ...]:
        """The trusted root and the two intermediates (leaves often come alone)."""
        return (self.root.cert_path, self.state_ca.cert_path, self.party_ca.cert_path)

    @property
    def ok(self) -> bool:
        """Every file the PKI promised is on disk."""
        entities = (
            self.root,
            self.state_ca,
            self.party_ca,
            self.person,
            self.organisation,
            self.expired_person,
            self.untrusted_root,
            self.untrusted_person,
        )
        return all(e.cert_path.is_file() and e.key_path.is_file() for e in entities)


def _name(common_name: str, organisation: str, title: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    if title is not None:
        attributes.append(x509.NameAttribute(NameOID.TITLE, title))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    *,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_length: int | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    """Build one certificate; ``issuer=None`` makes it self-signed."""
    public = key.public_key()
    issuer_name = subject if issuer is None else issuer[0].subject
    signing_key = key if issuer is None else issuer[1]
    issuer_public = public if issuer is None else issuer[1].public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),
            critical=False,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if crl_url is not None:
        point = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        builder = builder.add_extension(
            x509.CRLDistributionPoints([point]), critical=False
        )
    return builder.sign(signing_key, hashes.SHA256())


def crl_url_of(ca: PkiEntity) -> str:
    """Where the CA's CRL is published: a reserved name nobody fetches; use offline CRLs."""
    return f"http://crl.test.invalid/{ca.cert_path.stem}.crl"


def write_crl(
    ca: PkiEntity,
    revoked: Sequence[PkiEntity],
    dest: Path,
    *,
    revoked_at: datetime,
    now: datetime | None = None,
) -> Path:
    """Write a DER CRL of ``ca`` revoking ``revoked`` at ``revoked_at`` into ``dest``."""
    now = datetime.now(UTC) if now is None else now
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=7))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca.private_key.public_key()
            ),
            critical=False,
        )
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for entity in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entity.certificate.serial_number)
            .revocation_date(revoked_at)
            .build()
        )
    crl = builder.sign(ca.private_key, hashes.SHA256())
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{ca.cert_path.stem}.crl"
    path.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    return path


def _write(
    dest: Path,
    stem: str,
    certificate: x509.Certificate,
    key: rsa.RSAPrivateKey,
) -> tuple[Path, Path]:
    cert_path = dest / f"{stem}.pem"
    key_path = dest / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _entity(
    dest: Path,
    stem: str,
    subject: x509.Name,
    *,
    issuer: PkiEntity | None,
    not_before: datetime,
    not_after: datetime,
    ca: bool,
    path_length: int | None = None,
) -> PkiEntity:
    key = _new_key()
    certificate = _issue(
        subject,
        key,
        issuer=None if issuer is None else (issuer.certificate, issuer.private_key),
        not_before=not_before,
        not_after=not_after,
        ca=ca,
        path_length=path_length,
        crl_url=None if issuer is None else crl_url_of(issuer),
    )
    cert_path, key_path = _write(dest, stem, certificate, key)
    chain = () if issuer is None else (issuer.cert_path, *issuer.chain)
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return PkiEntity(
        name=str(common_name),
        cert_path=cert_path,
        key_path=key_path,
        certificate=certificate,
        private_key=key,
        chain=chain,
    )


def make_test_pki(dest: Path, *, now: datetime | None = None) -> TestPki:
    """Generate the test PKI into ``dest`` (created if missing) and return it.

    ``now`` (aware) anchors the validity periods; the expired person certificate ran
    from two years before it until one year before it. Certificates are
    ``<name>.pem``, keys ``<name>.key`` (PEM), so ``*.pem`` globs never pick up a key.
    """
    now = datetime.now(UTC) if now is None else now
    if now.tzinfo is None:
        raise ValueError("make_test_pki needs an aware datetime")
    dest.mkdir(parents=True, exist_ok=True)
    day = timedelta(days=1)
    ca_span = (now - 3650 * day, now + 7300 * day)
    leaf_span = (now - 365 * day, now + 1095 * day)
    expired_span = (now - 730 * day, now - 365 * day)

    def make(
        stem: str,
        subject: x509.Name,
        issuer: PkiEntity | None,
        span: tuple[datetime, datetime],
        path_length: int | None = None,
    ) -> PkiEntity:
        ca = span is ca_span
        return _entity(
            dest, stem, subject, issuer=issuer, not_before=span[0],
            not_after=span[1], ca=ca, path_length=path_length,
        )  # fmt: skip

    root = make("root", _name(ROOT_NAME, ROOT_ORG), None, ca_span)
    state_ca = make("ca-nha-nuoc", _name(STATE_CA_NAME, ROOT_ORG), root, ca_span, 0)
    party_ca = make("ca-dang", _name(PARTY_CA_NAME, ROOT_ORG), root, ca_span, 0)
    person_name = _name(PERSON_NAME, ORGANISATION, PERSON_TITLE)
    expired_name = _name(EXPIRED_NAME, EXPIRED_ORG, "Phó Giám đốc")
    untrusted_root = make(
        "untrusted-root", _name(UNTRUSTED_ROOT_NAME, UNTRUSTED_ORG), None, ca_span
    )
    return TestPki(
        dest=dest,
        root=root,
        state_ca=state_ca,
        party_ca=party_ca,
        person=make("person", person_name, party_ca, leaf_span),
        organisation=make(
            "organisation", _name(ORGANISATION, ORGANISATION), party_ca, leaf_span
        ),
        expired_person=make("expired", expired_name, state_ca, expired_span),
        untrusted_root=untrusted_root,
        untrusted_person=make(
            "untrusted-person",
            _name(UNTRUSTED_NAME, UNTRUSTED_ORG),
            untrusted_root,
            leaf_span,
        ),
    )
