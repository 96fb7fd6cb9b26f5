"""What ships: the package's exports, the templates and the default rules."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import mailbridge
from mailbridge.policy.rules import load_rules
from mailbridge.reply.render import Renderer

REPO = Path(__file__).resolve().parents[1]


def test_package_exports_only_its_version() -> None:
    """Importing mailbridge has no side effects and exports ``__version__``."""
    assert ["__version__"] == mailbridge.__all__
    assert "0.1.0" == importlib.import_module("mailbridge").__version__


def test_every_shipped_template_loads() -> None:
    """templates/ holds every template a reply, notice or alert needs, all parsing."""
    assert [] == Renderer(REPO / "templates").check()


def test_shipped_rules_load() -> None:
    """rules/ loads with the same loader check-config and serve use."""
    rules = load_rules(REPO / "rules")
    assert [p.name for p in sorted((REPO / "rules").glob("*.yaml"))] == [
        p.name for p in rules.files
    ]
    assert len(rules.rules) >= 3


def test_console_script_help_lists_the_commands() -> None:
    """``python -m mailbridge --help`` names every command of SPEC section 2 built so far."""
    out = subprocess.run(
        [sys.executable, "-m", "mailbridge", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in (
        "serve",
        "check-config",
        "ingest",
        "rules",
        "documents",
        "messages",
        "demo",
    ):
        assert command in out.stdout
