"""``mailbridge keys generate``: a DKIM key pair and the DNS record to publish."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml

from mailbridge.cli.common import ConfigOption, die
from mailbridge.config.loader import config_path
from mailbridge.keys import generate_dkim_key

__all__ = ["keys_app"]

keys_app = typer.Typer(help="DKIM keys of the bridge.", no_args_is_help=True)


def _configured(config: Path | None) -> tuple[dict[str, Any], Path | None]:
    """``outbound.dkim`` of the config file, read leniently (the key may not exist yet)."""
    path = config_path(config)
    if not path.is_file():
        return {}, None
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}, None
    dkim = (data.get("outbound") or {}).get("dkim") or {}
    return (dkim if isinstance(dkim, dict) else {}), path.parent


@keys_app.command("generate")
def generate(
    domain: Annotated[
        str | None, typer.Option("--domain", help="d= (default: outbound.dkim.domain)")
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option("--selector", help="s= (default: outbound.dkim.selector)"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="key file to write (default: outbound.dkim.private_key_file)"
        ),
    ] = None,
    algorithm: Annotated[
        str, typer.Option("--algorithm", help="rsa or ed25519")
    ] = "rsa",
    bits: Annotated[int, typer.Option("--bits", help="RSA key size")] = 2048,
    config: ConfigOption = None,
) -> None:
    """Write a new DKIM private key and print the DNS TXT record to publish."""
    dkim, base = _configured(config)
    domain = domain or dkim.get("domain")
    selector = selector or dkim.get("selector")
    if out is None and dkim.get("private_key_file") and base is not None:
        out = base / str(dkim["private_key_file"])
    if not domain or not selector:
        die("give --domain and --selector (or set outbound.dkim in the config)")
    if algorithm not in ("rsa", "ed25519"):
        die(f"--algorithm must be rsa or ed25519, not {algorithm!r}")
    algo: Literal["rsa", "ed25519"] = "rsa" if algorithm == "rsa" else "ed25519"
    target = out if out is not None else Path("keys") / f"{selector}.pem"
    if target.exists():
        die(
            f"{target} already exists: a DKIM key is never overwritten; move it away first"
        )
    try:
        key = generate_dkim_key(
            target.parent, domain=domain, selector=selector, algorithm=algo, bits=bits
        )
    except (ValueError, FileExistsError) as exc:
        die(str(exc))
    if key.private_key_file != target:
        os.replace(key.private_key_file, target)
    typer.echo(f"private key: {target}")
    typer.echo("publish this TXT record in DNS (zone-file form):")
    typer.echo(key.zone_line)
    typer.echo("or, for dns.mode: static, under dns.static_records:")
    typer.echo(f'  "{key.dns_name}": "{key.txt_record}"')
