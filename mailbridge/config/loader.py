"""Load ``mailbridge.yaml`` into :class:`~mailbridge.config.schema.Settings`.

The YAML is composed with its node positions kept, so every problem is reported as
``FILE:LINE: KEY: MESSAGE`` (``config/mailbridge.yaml:14: smtp.listen[0]: not
HOST:PORT``), and every problem found is reported at once in one
:class:`~mailbridge.errors.ConfigError`.

Before validation the loader resolves relative paths against the folder of the config
file (every ``Path`` field, the ``trust.pdf_roots`` patterns, a ``sqlite:///relative.db``
database URL), fills secrets (``X_env`` names an environment variable, ``X_file`` a file
whose stripped content becomes field ``X``; a secret's value never appears in a message)
and defaults ``templates_dir`` to ``templates`` beside the config folder. After that it
checks what the models cannot: HOST:PORT values, the time zone, e-mail addresses, and
that the DKIM key, the TLS files and the agencies file exist.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import types
import typing
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ValidationError

from mailbridge.config.schema import Settings
from mailbridge.config.yamlpos import (
    KeyPath,
    LineMap,
    file_error,
    format_key,
    line_of,
    load_yaml_with_lines,
    model_of,
    validation_issues,
)
from mailbridge.errors import ConfigError, ConfigIssue
from mailbridge.verify.dns import parse_nameserver

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG",
    "KeyPath",
    "LineMap",
    "address_problem",
    "config_path",
    "format_key",
    "line_of",
    "load_settings",
    "load_yaml_with_lines",
    "parse_host_port",
    "validation_issues",
]

log = logging.getLogger("mailbridge.config")

#: the environment variable naming the config file when ``-c`` is not given
CONFIG_ENV = "MAILBRIDGE_CONFIG"
#: the config file used when neither ``-c`` nor ``MAILBRIDGE_CONFIG`` is given
DEFAULT_CONFIG = Path("config/mailbridge.yaml")

_NO_CONFIG = (
    "no such file; copy config/mailbridge.yaml from the mailbridge sources there, "
    "or name another file with -c/--config or MAILBRIDGE_CONFIG"
)
_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+)):(?P<port>\d{1,5})$"
)
_SQLITE_URL = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?):///(?P<rest>.*)$", re.DOTALL)


def config_path(explicit: Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """The config file: ``explicit``, else ``$MAILBRIDGE_CONFIG``, else the default."""
    if explicit is not None:
        return explicit
    named = env.get(CONFIG_ENV, "").strip()
    return Path(named) if named else DEFAULT_CONFIG


def parse_host_port(value: str) -> tuple[str, int]:
    """``"127.0.0.1:2525"`` -> ``("127.0.0.1", 2525)``; IPv6 as ``[::1]:2525``.

    Raises :class:`ValueError` with a message fit for an admin.
    """
    match = _HOST_PORT.match(value.strip())
    if match is None:
        raise ValueError(f"not HOST:PORT: {value!r}")
    port = int(match["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is not between 1 and 65535")
    host = match["v6"] or match["host"]
    try:
        if match["v6"] or re.fullmatch(r"[\d.]+", host):
            ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {host!r}") from None
    return host, port


def address_problem(address: str) -> str | None:
    """Why ``address`` is not a usable e-mail address, or None when it is.

    DNS is not consulted; the reserved ``.test`` domain is accepted for test setups.
    """
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return f"not a valid e-mail address: {address!r} ({exc})"
    return None


def _is_path(annotation: Any) -> bool:
    """Whether the field is ``Path`` or ``Path | None``."""
    return annotation is Path or (
        isinstance(annotation, types.UnionType) and Path in typing.get_args(annotation)
    )


class _Preparer:
    """Resolves paths and secrets in the raw data, in place, recording issues."""

    def __init__(
        self, file: str, base: Path, lines: LineMap, env: Mapping[str, str]
    ) -> None:
        self.file = file
        self.base = base
        self.lines = lines
        self.env = env
        self.issues: list[ConfigIssue] = []

    def issue(self, loc: KeyPath, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.file, line_of(self.lines, loc), format_key(loc), message)
        )

    def path(self, value: str) -> Path:
        return Path(os.path.normpath(self.base / Path(value).expanduser()))

    def model(self, model: type[BaseModel], data: dict[Any, Any], loc: KeyPath) -> None:
        fields = model.model_fields
        for key in [k for k in data if isinstance(k, str)]:
            value, here = data[key], (*loc, key)
            if key not in fields:
                if key.endswith("_env") and key[:-4] in fields:
                    self.secret(data, key, key[:-4], here, from_env=True)
                elif key.endswith("_file") and key[:-5] in fields:
                    self.secret(data, key, key[:-5], here, from_env=False)
                continue  # an unknown key: validation names it
            annotation = fields[key].annotation
            sub = model_of(annotation)
            if _is_path(annotation) and isinstance(value, str):
                data[key] = str(self.path(value)) if value.strip() else value
                if not value.strip():
                    self.issue(here, "must not be empty")
            elif sub is not None and isinstance(value, dict):
                self.model(sub, value, here)
            elif sub is not None and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        self.model(sub, item, (*here, index))
        for key, info in fields.items():  # a declared X_env (api.token_env) fills X
            target, variable = key.removesuffix("_env"), data.get(key, info.default)
            if target != key and target in fields and data.get(target) is None:
                value = self.env.get(variable) if isinstance(variable, str) else None
                if value:
                    data[target] = value

    def secret(
        self,
        data: dict[Any, Any],
        key: str,
        target: str,
        loc: KeyPath,
        *,
        from_env: bool,
    ) -> None:
        source = data.pop(key)
        if target in data:
            self.issue(loc, f"give either {target} or {key}, not both")
            return
        if not isinstance(source, str) or not source.strip():
            what = "an environment variable" if from_env else "a file"
            self.issue(loc, f"must name {what}")
            return
        if from_env:
            value = self.env.get(source)
            if not value:
                self.issue(loc, f"environment variable {source} is not set")
                return
        else:
            file = self.path(source)
            try:
                value = file.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                self.issue(loc, f"no such file: {file}")
                return
            except (OSError, UnicodeDecodeError):
                self.issue(loc, f"cannot read: {file}")
                return
            if not value:
                self.issue(loc, f"file is empty: {file}")
                return
        data[target] = value

    def settings(self, data: dict[Any, Any], config_file: Path) -> None:
        if "api" not in data and self.env.get(
            Settings.model_fields["api"].default.token_env
        ):
            data["api"] = {}
        self.model(Settings, data, ())
        trust = data.get("trust")
        if isinstance(trust, dict) and isinstance(trust.get("pdf_roots"), list):
            trust["pdf_roots"] = [
                str(self.path(p)) if isinstance(p, str) else p
                for p in trust["pdf_roots"]
            ]
        database = data.get("database")
        if isinstance(database, dict) and isinstance(database.get("url"), str):
            match = _SQLITE_URL.match(database["url"])
            rest = match["rest"] if match else ""
            if match and rest and not rest.startswith((":memory:", "/", "file:")):
                file, sep, query = rest.partition("?")
                database["url"] = f"{match['scheme']}:///{self.path(file)}{sep}{query}"
        if data.get("templates_dir") is None:
            data["templates_dir"] = str(config_file.parent.parent / "templates")
        if "config_file" in data:
            self.issue(("config_file",), "set by mailbridge itself; remove this key")
        data["config_file"] = str(config_file)


def _get(data: Any, loc: KeyPath) -> Any:
    """The value at ``loc``, or None when it (or a parent) is absent or mistyped."""
    for key in loc:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and key < len(data) else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


def _items(data: Any, loc: KeyPath) -> list[KeyPath]:
    """The key paths of the items of the list at ``loc``."""
    value = _get(data, loc)
    return [(*loc, i) for i in range(len(value))] if isinstance(value, list) else []


def _checks(data: dict[Any, Any]) -> list[tuple[KeyPath, str]]:
    """What the models cannot check, on the prepared data: (key path, problem)."""
    found: list[tuple[KeyPath, str]] = []
    endpoints = [
        *_items(data, ("smtp", "listen")),
        ("api", "listen"),
        ("outbound", "smarthost"),
    ]
    clamd = _get(data, ("clamav", "address"))
    if isinstance(clamd, str) and not clamd.startswith("unix:"):
        endpoints.append(("clamav", "address"))
    for loc in endpoints:
        if isinstance(value := _get(data, loc), str):
            try:
                parse_host_port(value)
            except ValueError as exc:
                found.append((loc, str(exc)))
    if isinstance(zone := _get(data, ("bridge", "timezone")), str):
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            found.append(
                (
                    ("bridge", "timezone"),
                    f"unknown time zone {zone!r} (Vietnam: Asia/Ho_Chi_Minh)",
                )
            )
    for loc in _items(data, ("dns", "nameservers")):
        if isinstance(value := _get(data, loc), str):
            try:
                parse_nameserver(value)
            except ValueError as exc:
                found.append((loc, str(exc)))
    if (
        _get(data, ("smtp", "require_tls")) is True
        and _get(data, ("smtp", "tls")) is None
    ):
        found.append(
            (
                ("smtp", "require_tls"),
                "require_tls needs smtp.tls (cert_file, key_file) to offer STARTTLS",
            )
        )
    files: list[KeyPath] = [
        ("outbound", "dkim", "private_key_file"),
        ("agencies_file",),
        ("smtp", "tls", "cert_file"),
        ("smtp", "tls", "key_file"),
    ]
    for loc in files:
        if isinstance(value := _get(data, loc), str):
            if not os.path.isfile(value):
                found.append((loc, f"no such file: {value}"))
            elif not os.access(value, os.R_OK):
                found.append((loc, f"cannot read (check its owner and mode): {value}"))
    addresses = [
        *_items(data, ("bridge", "addresses")),
        ("outbound", "from_address"),
        ("security_contact",),
    ]
    for loc in addresses:
        value = _get(data, loc)
        problem = address_problem(value) if isinstance(value, str) else None
        if problem is not None and "@" in value:  # no "@": the model says so
            found.append((loc, problem))
    return found


def load_settings(path: Path, *, env: Mapping[str, str] = os.environ) -> Settings:
    """Read, resolve and validate a ``mailbridge.yaml``.

    Raises :class:`ConfigError` carrying every issue found, each with file, line, key.
    """
    name = str(path)
    if not path.exists():
        raise file_error(name, None, _NO_CONFIG)
    data, lines = load_yaml_with_lines(path)
    if data is None:
        raise file_error(name, None, "the file is empty")
    if not isinstance(data, dict):
        raise file_error(
            name, 1, "the file must be a mapping of keys (bridge:, smtp:, ...)"
        )
    config_file = Path(os.path.abspath(path))
    preparer = _Preparer(name, config_file.parent, lines, env)
    preparer.settings(data, config_file)
    issues = preparer.issues
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        issues += validation_issues(name, exc, lines, model=Settings)
    for loc, problem in _checks(data):
        preparer.issue(loc, problem)
    if issues or settings is None:
        raise ConfigError(sorted(issues, key=lambda i: (i.line is None, i.line or 0)))
    log.debug("loaded %s", config_file)
    return settings
