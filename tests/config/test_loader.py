"""Loading mailbridge.yaml: resolved paths, secrets, and errors with file, line and key."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel

from mailbridge.config.agencies import AgencyRegister
from mailbridge.config.loader import (
    config_path,
    load_settings,
    load_yaml_with_lines,
    parse_host_port,
)
from mailbridge.config.schema import Settings
from mailbridge.errors import ConfigError, ConfigIssue

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
bridge:
  name: "Cổng thư thử nghiệm"
  agency_code: "A32.01"
  domain: bridge.example.vn
  addresses: ["vanthu@bridge.example.vn"]
  data_dir: ../var
outbound:
  from_address: "vanthu@bridge.example.vn"
database:
  url: "sqlite:///../var/mailbridge.db"
agencies_file: agencies.yaml
rules_dir: ../rules
"""


def make_config(root: Path, text: str) -> Path:
    """Write ``root/config/mailbridge.yaml`` with ``text`` beside an agencies file."""
    folder = root / "config"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agencies.yaml").write_text("agencies: []\n", encoding="utf-8")
    path = folder / "mailbridge.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def line_with(path: Path, fragment: str) -> int:
    """The 1-based number of the first line of ``path`` containing ``fragment``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if fragment in line)


def issues_of(path: Path, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    """The issues load_settings reports for ``path``."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {})
    return caught.value.issues


def write_dkim_key(path: Path) -> None:
    """A real 2048-bit RSA private key in PEM, as an admin would create."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_minimal_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    """Relative paths are relative to the config folder; templates default beside it."""
    path = make_config(tmp_path, MINIMAL)
    settings = load_settings(path, env={})
    expected = {
        "data_dir": tmp_path / "var",
        "agencies_file": tmp_path / "config" / "agencies.yaml",
        "rules_dir": tmp_path / "rules",
        "templates_dir": tmp_path / "templates",
        "config_file": path,
        "database": f"sqlite:///{tmp_path}/var/mailbridge.db",
    }
    actual = {
        "data_dir": settings.bridge.data_dir,
        "agencies_file": settings.agencies_file,
        "rules_dir": settings.rules_dir,
        "templates_dir": settings.templates_dir,
        "config_file": settings.config_file,
        "database": settings.database.url,
    }
    assert expected == actual


def test_every_path_field_is_resolved(tmp_path: Path) -> None:
    """TLS, DKIM, PGP, CRL, keyring paths and pdf_roots patterns all become absolute."""
    path = make_config(
        tmp_path,
        MINIMAL
        + """\
templates_dir: ../mau
smtp:
  tls: {cert_file: tls/cert.pem, key_file: tls/key.pem}
trust:
  pdf_roots: ["trust/*.pem", "/etc/ca/root.pem"]
  pgp_keyring: gnupg
  crl_dir: ../crl
""",
    )
    text = path.read_text(encoding="utf-8").replace(
        'from_address: "vanthu@bridge.example.vn"',
        'from_address: "vanthu@bridge.example.vn"\n'
        "  dkim: {domain: bridge.example.vn, selector: s1,"
        " private_key_file: keys/dkim.pem}\n"
        "  pgp_home: ~/gnupg-bridge",
    )
    path.write_text(text, encoding="utf-8")
    config = tmp_path / "config"
    for name in ("tls/cert.pem", "tls/key.pem", "keys/dkim.pem"):
        (config / name).parent.mkdir(exist_ok=True)
        (config / name).write_text("placeholder\n", encoding="utf-8")
    settings = load_settings(path, env={})
    assert settings.smtp.tls is not None
    assert settings.outbound.dkim is not None
    expected = [
        config / "tls/cert.pem",
        config / "tls/key.pem",
        config / "keys/dkim.pem",
        Path.home() / "gnupg-bridge",
        config / "gnupg",
        tmp_path / "crl",
        tmp_path / "mau",
    ]
    actual = [
        settings.smtp.tls.cert_file,
        settings.smtp.tls.key_file,
        settings.outbound.dkim.private_key_file,
        settings.outbound.pgp_home,
        settings.trust.pgp_keyring,
        settings.trust.crl_dir,
        settings.templates_dir,
    ]
    assert expected == actual
    assert [f"{config}/trust/*.pem", "/etc/ca/root.pem"] == settings.trust.pdf_roots


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("sqlite:////srv/mb/db.sqlite", "sqlite:////srv/mb/db.sqlite"),
        (
            "sqlite+pysqlite:///mb.db?timeout=5",
            "sqlite+pysqlite:///{config}/mb.db?timeout=5",
        ),
        (
            "postgresql+psycopg://mb@127.0.0.1/mb",
            "postgresql+psycopg://mb@127.0.0.1/mb",
        ),
    ],
)
def test_database_url_forms(tmp_path: Path, url: str, expected: str) -> None:
    """Only a relative SQLite file becomes absolute; memory, absolute and PG stay."""
    path = make_config(tmp_path, MINIMAL.replace("sqlite:///../var/mailbridge.db", url))
    settings = load_settings(path, env={})
    assert expected.format(config=tmp_path / "config") == settings.database.url


def test_shipped_config_loads_once_the_admin_created_the_dkim_key(
    tmp_path: Path,
) -> None:
    """config/mailbridge.yaml and agencies.yaml load in a copy with keys/dkim.pem made.

    The shipped file points at keys/dkim.pem (git-ignored): an admin generates it, so
    this test does the same in a temporary copy of the config folder.
    """
    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.rmtree(tmp_path / "config" / "keys", ignore_errors=True)
    path = tmp_path / "config" / "mailbridge.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    missing = tmp_path / "config" / "keys" / "dkim.pem"
    expected_issue = ConfigIssue(
        str(path),
        line_with(path, "private_key_file: keys/dkim.pem"),
        "outbound.dkim.private_key_file",
        f"no such file: {missing}",
    )
    assert [expected_issue] == caught.value.issues
    write_dkim_key(missing)
    settings = load_settings(path, env={"MAILBRIDGE_API_TOKEN": "t0ken"})
    register = AgencyRegister.from_file(settings.agencies_file)
    expected = ("A32.01", "Asia/Ho_Chi_Minh", ["127.0.0.1:2525"], "t0ken", 3, 0)
    actual = (
        settings.bridge.agency_code,
        settings.bridge.timezone,
        settings.smtp.listen,
        settings.api.token,
        len(register),
        len(settings.imap),
    )
    assert expected == actual


def _keys(model: type[BaseModel]) -> set[str]:
    """Every key name of a model and of the models inside it."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _keys(arg)
    return names


def test_shipped_config_documents_every_key() -> None:
    """Each key the models know appears in the shipped file, set or commented."""
    text = (REPO / "config" / "mailbridge.yaml").read_text(encoding="utf-8")
    internal = {"config_file", "token", "password", "pgp_passphrase", "url"}
    expected: list[str] = []
    assert expected == sorted(
        k for k in _keys(Settings) - internal if f"{k}:" not in text
    )


def test_secrets_from_environment_and_files(tmp_path: Path) -> None:
    """*_env reads a variable, *_file reads a stripped file; api.token_env stays."""
    path = make_config(
        tmp_path,
        MINIMAL.replace('url: "sqlite:///../var/mailbridge.db"', "url_env: MB_DB")
        + """\
api: {token_env: MB_TOKEN}
imap:
  - {name: a, host: 127.0.0.1, user: u1, password_env: MB_IMAP}
  - {name: b, host: 127.0.0.1, user: u2, password_file: secrets/imap-b}
""",
    )
    (tmp_path / "config" / "secrets").mkdir()
    (tmp_path / "config" / "secrets" / "imap-b").write_text(
        "  mk-b\n", encoding="utf-8"
    )
    env = {"MB_DB": "sqlite:///:memory:", "MB_TOKEN": "tok", "MB_IMAP": "mk-a"}
    settings = load_settings(path, env=env)
    expected = ("sqlite:///:memory:", "MB_TOKEN", "tok", ["mk-a", "mk-b"])
    actual = (
        settings.database.url,
        settings.api.token_env,
        settings.api.token,
        [box.password for box in settings.imap],
    )
    assert expected == actual


def test_unset_api_token_is_allowed(tmp_path: Path) -> None:
    """Without the API token variable the config loads; the token stays unset."""
    settings = load_settings(make_config(tmp_path, MINIMAL), env={})
    expected = ("MAILBRIDGE_API_TOKEN", None)
    assert expected == (settings.api.token_env, settings.api.token)


def test_default_api_token_variable_fills_the_token(tmp_path: Path) -> None:
    """With no api section, MAILBRIDGE_API_TOKEN still provides the token."""
    path = make_config(tmp_path, MINIMAL)
    settings = load_settings(path, env={"MAILBRIDGE_API_TOKEN": "s3cret"})
    expected = "s3cret"
    assert expected == settings.api.token


def test_secret_problems_name_the_source_never_the_value(tmp_path: Path) -> None:
    """Unset variable, missing file and a doubled secret are errors without values."""
    path = make_config(
        tmp_path,
        MINIMAL
        + """\
imap:
  - {name: a, host: 127.0.0.1, user: u1, password_env: MB_IMAP_A}
  - {name: b, host: 127.0.0.1, user: u2, password_file: nowhere/pw}
  - {name: c, host: 127.0.0.1, user: u3, password: hunter2, password_env: MB_IMAP_C}
""",
    )
    issues = issues_of(path, env={"MB_IMAP_C": "topsecret"})
    expected = [
        (
            line_with(path, "name: a"),
            "imap[0].password_env",
            "environment variable MB_IMAP_A is not set",
        ),
        (
            line_with(path, "name: b"),
            "imap[1].password_file",
            f"no such file: {tmp_path}/config/nowhere/pw",
        ),
        (
            line_with(path, "name: c"),
            "imap[2].password_env",
            "give either password or password_env, not both",
        ),
    ]
    assert expected == [(i.line, i.key, i.message) for i in issues]
    assert "hunter2" not in str(ConfigError(issues))
    assert "topsecret" not in str(ConfigError(issues))


def test_bad_host_port_names_file_line_and_key(tmp_path: Path) -> None:
    """A listen entry that is not HOST:PORT reads FILE:LINE: smtp.listen[i]: ..."""
    path = make_config(
        tmp_path,
        MINIMAL
        + """\
smtp:
  listen:
    - "127.0.0.1:2525"
    - "localhost"
    - "[::1]:70000"
""",
    )
    issues = issues_of(path)
    localhost = line_with(path, '- "localhost"')
    expected = [
        f"{path}:{localhost}: smtp.listen[1]: not HOST:PORT: 'localhost'",
        f"{path}:{line_with(path, '70000')}: smtp.listen[2]: port 70000 is not between 1 and 65535",
    ]
    assert expected == [str(i) for i in issues]


def test_unknown_key_is_named_with_a_hint(tmp_path: Path) -> None:
    """A misspelt key is an error at its line, with the closest known key."""
    path = make_config(tmp_path, MINIMAL + "smtp:\n  listn: ['127.0.0.1:25']\n")
    expected = [
        ConfigIssue(
            str(path),
            line_with(path, "listn"),
            "smtp.listn",
            "unknown key (did you mean 'listen'?)",
        )
    ]
    assert expected == issues_of(path)


def test_many_problems_are_reported_together_in_line_order(tmp_path: Path) -> None:
    """Wrong type, bad zone, bad address, missing key and bad endpoint: all at once."""
    text = (
        MINIMAL.replace(
            "  data_dir: ../var\n", "  data_dir: ../var\n  timezone: Asia/Hanoi\n"
        )
        .replace(
            'from_address: "vanthu@bridge.example.vn"', 'from_address: "vanthu@@bridge"'
        )
        .replace("rules_dir: ../rules\n", "")
        + "smtp: {max_message_bytes: lots}\napi: {listen: '127.0.0.1'}\n"
    )
    path = make_config(tmp_path, text)
    (tmp_path / "config" / "agencies.yaml").unlink()
    issues = issues_of(path)
    expected = [
        (
            line_with(path, "timezone"),
            "bridge.timezone",
            "unknown time zone 'Asia/Hanoi' (Vietnam: Asia/Ho_Chi_Minh)",
        ),
        (line_with(path, "from_address"), "outbound.from_address"),
        (
            line_with(path, "agencies_file"),
            "agencies_file",
            f"no such file: {tmp_path}/config/agencies.yaml",
        ),
        (
            line_with(path, "max_message_bytes"),
            "smtp.max_message_bytes",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        (line_with(path, "api:"), "api.listen", "not HOST:PORT: '127.0.0.1'"),
        (None, "rules_dir", "required key is missing"),
    ]
    # the address message ends with email-validator's own explanation
    actual = [(i.line, i.key, i.message) for i in issues]
    assert expected == [actual[0], actual[1][:2], *actual[2:]]
    assert issues[1].message.startswith("not a valid e-mail address: 'vanthu@@bridge'")


def test_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    """A broken YAML file is one issue at the line of the problem."""
    path = make_config(
        tmp_path, MINIMAL + "smtp:\n  listen: [127.0.0.1:2525\napi: {}\n"
    )
    issues = issues_of(path)
    assert [(str(path), line_with(path, "api: {}"))] == [
        (i.file, i.line) for i in issues
    ]
    assert issues[0].message.startswith("YAML syntax error: ")


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """A key given twice in one mapping is reported, not silently overridden."""
    path = make_config(tmp_path, MINIMAL + "rules_dir: ../other\n")
    expected = [
        ConfigIssue(
            str(path),
            line_with(path, "../other"),
            "rules_dir",
            f"key given twice (first at line {line_with(path, '../rules')})",
        )
    ]
    assert expected == issues_of(path)


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    """A missing file is one issue telling the admin where a config comes from."""
    path = tmp_path / "nope.yaml"
    expected = [
        ConfigIssue(
            str(path),
            None,
            "",
            "no such file; copy config/mailbridge.yaml from the mailbridge sources "
            "there, or name another file with -c/--config or MAILBRIDGE_CONFIG",
        )
    ]
    assert expected == issues_of(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ConfigIssue("{p}", None, "", "the file is empty")),
        (
            "- a\n- b\n",
            ConfigIssue(
                "{p}", 1, "", "the file must be a mapping of keys (bridge:, smtp:, ...)"
            ),
        ),
    ],
)
def test_empty_or_non_mapping_file(
    tmp_path: Path, text: str, expected: ConfigIssue
) -> None:
    """An empty file or a list at the top is reported plainly."""
    path = make_config(tmp_path, text)
    assert [ConfigIssue(str(path), expected.line, "", expected.message)] == issues_of(
        path
    )


def test_config_path_order() -> None:
    """-c wins, then MAILBRIDGE_CONFIG, then config/mailbridge.yaml."""
    expected = [Path("a.yaml"), Path("/etc/mb.yaml"), Path("config/mailbridge.yaml")]
    actual = [
        config_path(Path("a.yaml"), env={"MAILBRIDGE_CONFIG": "/etc/mb.yaml"}),
        config_path(None, env={"MAILBRIDGE_CONFIG": "/etc/mb.yaml"}),
        config_path(None, env={}),
    ]
    assert expected == actual


def test_yaml_line_map(tmp_path: Path) -> None:
    """Each key and list item maps to its own 1-based line."""
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 1\n  c:\n    - x\n    - y\n", encoding="utf-8")
    data, lines = load_yaml_with_lines(path)
    expected_lines = {
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 5,
    }
    assert ({"a": {"b": 1, "c": ["x", "y"]}}, expected_lines) == (data, lines)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:2525", ("127.0.0.1", 2525)),
        ("[::1]:25", ("::1", 25)),
        ("mx.example.vn:587", ("mx.example.vn", 587)),
    ],
)
def test_parse_host_port(value: str, expected: tuple[str, int]) -> None:
    """HOST:PORT with an IPv4 address, a bracketed IPv6 address or a host name."""
    assert expected == parse_host_port(value)


@pytest.mark.parametrize(
    "value", ["127.0.0.1", "127.0.0.1:0", "300.1.1.1:25", "[zz]:25", ":25"]
)
def test_parse_host_port_refuses(value: str) -> None:
    """No port, port 0, a bad IP address, an empty host are refused."""
    with pytest.raises(ValueError, match=r"HOST:PORT|port|IP address"):
        parse_host_port(value)


def test_tls_files_must_exist_and_paths_must_not_be_empty(tmp_path: Path) -> None:
    """Missing STARTTLS files are named with their resolved path; "" is no path."""
    text = MINIMAL.replace("data_dir: ../var", 'data_dir: ""') + (
        "smtp:\n  tls:\n    cert_file: tls/cert.pem\n    key_file: /nowhere/key.pem\n"
    )
    path = make_config(tmp_path, text)
    expected = [
        (line_with(path, "data_dir"), "bridge.data_dir", "must not be empty"),
        (
            line_with(path, "cert_file"),
            "smtp.tls.cert_file",
            f"no such file: {tmp_path}/config/tls/cert.pem",
        ),
        (
            line_with(path, "key_file"),
            "smtp.tls.key_file",
            "no such file: /nowhere/key.pem",
        ),
    ]
    assert expected == [(i.line, i.key, i.message) for i in issues_of(path)]


def test_require_tls_without_a_certificate_is_an_error(tmp_path: Path) -> None:
    """require_tls with no smtp.tls cannot offer STARTTLS: named with its line."""
    path = make_config(tmp_path, MINIMAL + "smtp:\n  require_tls: true\n")
    expected = [
        f"{path}:{line_with(path, 'require_tls')}: smtp.require_tls: "
        "require_tls needs smtp.tls (cert_file, key_file) to offer STARTTLS"
    ]
    assert expected == [str(i) for i in issues_of(path)]


def test_bad_nameserver_is_named_with_its_line(tmp_path: Path) -> None:
    """dns.nameservers entries must be IP or IP:PORT; check-config says which line."""
    path = make_config(
        tmp_path,
        MINIMAL + 'dns:\n  nameservers: ["127.0.0.1:5353", "dns.example.vn"]\n',
    )
    [issue] = issues_of(path)
    assert (line_with(path, "nameservers"), "dns.nameservers[1]") == (
        issue.line,
        issue.key,
    )
