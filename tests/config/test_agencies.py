"""The agency register: lookups by address, domain, code and key; file errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mailbridge.config.agencies import Agency, AgencyRegister, code_form
from mailbridge.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]

FPR = "0123456789ABCDEF0123456789ABCDEF01234567"

REGISTER = """\
agencies:
  - code: "A32.01.07"
    name: "Đảng ủy phường Phan Rang"
    addresses: ["VanThu@PhanRang.example.vn"]
    domains: ["phanrang.example.vn"]
  - code: "A32.01.12"
    name: "Ban Tuyên giáo (giả định)"
    addresses: ["lanhdao@phanrang.example.vn"]
    pgp_fingerprints: ["0123 4567 89ab cdef 0123  4567 89AB CDEF 0123 4567"]
  - code: "000.00.12.H99"
    name: "Sở Thử nghiệm"
    domains: ["sothunghiem.example.vn"]
"""


def write(tmp_path: Path, text: str) -> Path:
    """An agencies.yaml in ``tmp_path`` holding ``text``."""
    path = tmp_path / "agencies.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_with(path: Path, fragment: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``fragment``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if fragment in line)


def issues_of(path: Path) -> list[ConfigIssue]:
    """The issues AgencyRegister.from_file reports for ``path``."""
    with pytest.raises(ConfigError) as caught:
        AgencyRegister.from_file(path)
    return caught.value.issues


@pytest.fixture
def register(tmp_path: Path) -> AgencyRegister:
    """The three-agency register above, loaded from a file."""
    return AgencyRegister.from_file(write(tmp_path, REGISTER))


def test_shipped_agencies_load() -> None:
    """config/agencies.yaml is valid and holds fictional example.vn agencies."""
    register = AgencyRegister.from_file(REPO / "config" / "agencies.yaml")
    expected = [("A32.01.07", "new"), ("A32.01.12", "new"), ("000.00.12.H99", "legacy")]
    assert expected == [(a.code, a.form) for a in register]
    domains = {d for a in register for d in a.domains} | {
        addr.rpartition("@")[2] for a in register for addr in a.addresses
    }
    expected_suffix = {True}
    assert expected_suffix == {d.endswith(".example.vn") for d in domains}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("lanhdao@phanrang.example.vn", "A32.01.12"),  # exact address beats the domain
        ("vanthu@phanrang.example.vn", "A32.01.07"),
        ("VANTHU@PHANRANG.EXAMPLE.VN", "A32.01.07"),  # any letter case
        ("<ketoan@phanrang.example.vn>", "A32.01.07"),  # by domain
        ("ai@SoThuNghiem.example.vn", "000.00.12.H99"),
        ("ai@con.sothunghiem.example.vn", None),  # a subdomain is not listed
        ("ai@example.vn", None),
        ("khong-co-a-cong", None),
        ("", None),
        (None, None),
    ],
)
def test_lookup(
    register: AgencyRegister, address: str | None, expected: str | None
) -> None:
    """Exact address first, then the exact domain; otherwise no agency."""
    found = register.lookup(address)
    assert expected == (found.code if found else None)


def test_by_code_and_fingerprint(register: AgencyRegister) -> None:
    """Codes and fingerprints are found whatever their spacing and case."""
    expected = ("Sở Thử nghiệm", "A32.01.12", None, None)
    by_code = register.by_code(" 000.00.12.h99 ")
    by_key = register.by_fingerprint(FPR.lower())
    actual = (
        by_code.name if by_code else None,
        by_key.code if by_key else None,
        register.by_code("A99"),
        register.by_fingerprint("F" * 40),
    )
    assert expected == actual


def test_agency_fields_are_normalised(register: AgencyRegister) -> None:
    """Addresses and domains are kept lower-case, fingerprints without spaces."""
    expected = [
        Agency(
            code="A32.01.07",
            name="Đảng ủy phường Phan Rang",
            addresses=("vanthu@phanrang.example.vn",),
            domains=("phanrang.example.vn",),
        ),
        Agency(
            code="A32.01.12",
            name="Ban Tuyên giáo (giả định)",
            addresses=("lanhdao@phanrang.example.vn",),
            pgp_fingerprints=(FPR,),
        ),
    ]
    assert expected == list(register)[:2]
    expected_len = 3
    assert expected_len == len(register)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("000.00.00.G22", "legacy"),
        ("000.01.32.A32", "legacy"),
        ("G22", "new"),
        ("G12.18.C8", "new"),
        ("A32.01.07", "new"),
        ("A32.01.1234", "unknown"),
        ("a32.01", "unknown"),
        ("32.01", "unknown"),
        ("A3", "unknown"),
        ("A32" + ".ABC" * 8, "new"),  # 35 characters, the longest allowed
        ("A32" + ".ABC" * 9, "unknown"),  # 39 characters
        ("", "unknown"),
    ],
)
def test_code_form(code: str, expected: str) -> None:
    """The legacy and new patterns of DOMAIN.md section 7."""
    assert expected == code_form(code)


def test_every_problem_is_reported_with_line_and_key(tmp_path: Path) -> None:
    """Bad code, duplicate code, claimed address and domain, bad types: all at once."""
    path = write(
        tmp_path,
        """\
        agencies:
          - code: "A32.01.07"
            name: "Một"
            addresses: ["vanthu@mot.example.vn"]
            domains: ["mot.example.vn"]
          - code: "A32-01-08"
            name: "Hai"
            addresses: ["VANTHU@mot.example.vn", "not-an-address"]
          - code: "A32.01.07"
            name: "Ba"
            domains: ["mot.example.vn", "khong_hop_le"]
            pgp_fingerprints: ["ABCD"]
          - code: "A32.01.09"
            name: ["sai", "kieu"]
            adresses: []
        """,
    )
    first = line_with(path, '"A32.01.07"')
    first_domain = line_with(path, 'domains: ["mot.example.vn"]')
    expected = [
        (
            line_with(path, "A32-01-08"),
            "agencies[1].code",
            "not an agency identifier code: 'A32-01-08' (legacy form 000.00.00.A32 or new form A32.01.07)",
        ),
        (
            line_with(path, "VANTHU@"),
            "agencies[1].addresses[0]",
            f"address vanthu@mot.example.vn is already claimed by agency A32.01.07 (line {line_with(path, 'vanthu@mot')})",
        ),
        (line_with(path, "VANTHU@"), "agencies[1].addresses[1]"),
        (
            line_with(path, 'name: "Ba"') - 1,
            "agencies[2].code",
            f"code A32.01.07 is already claimed by agency A32.01.07 (line {first})",
        ),
        (
            line_with(path, "khong_hop_le"),
            "agencies[2].domains[0]",
            f"domain mot.example.vn is already claimed by agency A32.01.07 (line {first_domain})",
        ),
        (
            line_with(path, "khong_hop_le"),
            "agencies[2].domains[1]",
            "not a domain name: 'khong_hop_le'",
        ),
        (
            line_with(path, "ABCD"),
            "agencies[2].pgp_fingerprints[0]",
            "not an OpenPGP fingerprint (40 or 64 hex digits)",
        ),
        (line_with(path, "sai"), "agencies[3].name", "Input should be a valid string"),
        (
            line_with(path, "adresses"),
            "agencies[3].adresses",
            "unknown key (did you mean 'addresses'?)",
        ),
    ]
    issues = issues_of(path)
    # the bad address's message ends with email-validator's own explanation
    actual = [(i.line, i.key, i.message) for i in issues]
    assert expected == [*actual[:2], actual[2][:2], *actual[3:]]
    assert issues[2].message.startswith("not a valid e-mail address: 'not-an-address'")


def test_top_level_problems(tmp_path: Path) -> None:
    """Only the key agencies: is allowed, and it must hold a list."""
    path = write(tmp_path, "agencies: {code: A32}\ncoquan: []\n")
    expected = [
        ConfigIssue(str(path), 1, "agencies", "must be a list of agencies"),
        ConfigIssue(
            str(path), 2, "coquan", "unknown key (the file holds only agencies:)"
        ),
    ]
    assert expected == issues_of(path)


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    """A YAML error names its line; a missing file says so."""
    path = write(tmp_path, "agencies:\n  - code: 'A32\n    name: x\n")
    missing = tmp_path / "none.yaml"
    syntax = issues_of(path)
    expected = [(str(path), 4, True), (str(missing), None, True)]
    actual = [
        (
            syntax[0].file,
            syntax[0].line,
            syntax[0].message.startswith("YAML syntax error"),
        ),
        *((i.file, i.line, i.message == "no such file") for i in issues_of(missing)),
    ]
    assert expected == actual


def test_empty_file_is_an_empty_register(tmp_path: Path) -> None:
    """An empty agencies file, or an empty list, registers nobody."""
    expected = [0, 0]
    actual = [
        len(AgencyRegister.from_file(write(tmp_path, ""))),
        len(AgencyRegister.from_file(write(tmp_path, "agencies: []\n"))),
    ]
    assert expected == actual


def test_register_built_in_code_refuses_conflicts() -> None:
    """Two agencies claiming one address cannot share a register."""
    one = Agency(code="A32.01", name="Một", addresses=("a@x.example.vn",))
    two = Agency(code="A32.02", name="Hai", addresses=("a@x.example.vn",))
    with pytest.raises(ValueError) as caught:
        AgencyRegister([one, two])
    expected = "a@x.example.vn belongs to A32.01 and A32.02"
    assert expected == str(caught.value)
