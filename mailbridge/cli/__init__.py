"""The ``mailbridge`` command (typer). Every subcommand takes ``-c/--config``."""

from __future__ import annotations

import typer

from mailbridge.cli.demo import demo
from mailbridge.cli.ingest import ingest, rules_test
from mailbridge.cli.keys import keys_app
from mailbridge.cli.register import documents_app, messages_app
from mailbridge.cli.serve import check_config, serve

__all__ = ["app", "main"]

app = typer.Typer(
    name="mailbridge",
    help="Mail gateway for official documents: SMTP/IMAP in, verified, registered, answered.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_app = typer.Typer(help="The admin's YAML rules.", no_args_is_help=True)

app.command("serve")(serve)
app.command("check-config")(check_config)
app.command("ingest")(ingest)
rules_app.command("test")(rules_test)
app.add_typer(rules_app, name="rules")
app.add_typer(documents_app, name="documents")
app.add_typer(messages_app, name="messages")
app.add_typer(keys_app, name="keys")
app.command("demo")(demo)


def main() -> None:
    """Entry point of the console script."""
    app()
