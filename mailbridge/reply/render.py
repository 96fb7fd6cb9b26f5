"""Rendering of the Vietnamese reply templates with one explicit jinja2 environment.

The environment is owned by a :class:`Renderer` built once from the configured
``templates/`` folder: ``StrictUndefined`` (a missing fact is an error, never an empty
string), no autoescaping for plain text, trailing newlines kept, block tags trimmed.
Every rendered text is Unicode NFC.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

from mailbridge.codes import Reason, Status

__all__ = ["REQUIRED_TEMPLATES", "VERDICT_STATUSES", "Renderer", "required_templates"]

#: Statuses answered as the verdict on a message (``reply/*``); every status also
#: has a later-change notice (``notice/*``).
VERDICT_STATUSES = frozenset({Status.ACCEPTED, Status.ARRIVED, Status.RETURNED})


def required_templates() -> tuple[str, ...]:
    """Every template name the bridge may ask for, in a stable order."""
    names = [f"reply/{status}.txt.j2" for status in sorted(VERDICT_STATUSES)]
    names.append("reply/subject.txt.j2")
    names += [f"notice/{status}.txt.j2" for status in Status]
    names += [f"reason/{reason}.txt.j2" for reason in Reason]
    names += ["alert/classified.txt.j2", "alert/subject.txt.j2"]
    return tuple(names)


REQUIRED_TEMPLATES = required_templates()


class Renderer:
    """Renders templates found under ``templates_dir``."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = templates_dir
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir), encoding="utf-8"),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "html.j2", "xml", "xml.j2"),
                default_for_string=False,
                default=False,
            ),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )

    def render(self, name: str, **context: Any) -> str:
        """Render template ``name`` (e.g. ``reply/accepted.txt.j2``) as NFC text.

        Raises :class:`jinja2.TemplateNotFound` for a missing template and
        :class:`jinja2.UndefinedError` when the template uses a fact not given.
        """
        text = self.env.get_template(name).render(**context)
        return unicodedata.normalize("NFC", text)

    def exists(self, name: str) -> bool:
        """True when template ``name`` is present under the templates folder."""
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound:
            return False
        except jinja2.TemplateError:
            return True
        return True

    def check(self, required: Iterable[str] = REQUIRED_TEMPLATES) -> list[str]:
        """Problems with the templates, one line each; empty when all load.

        Lists every template that does not parse (``name:line: message``) and every
        ``required`` template that is missing.
        """
        if not self.templates_dir.is_dir():
            return [f"{self.templates_dir}: templates folder not found"]
        problems: list[str] = []
        present = set(self.env.list_templates(extensions=["j2"]))
        for name in sorted(present):
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{name}:{exc.lineno}: {exc.message}")
            except (jinja2.TemplateError, UnicodeDecodeError, OSError) as exc:
                problems.append(f"{name}: {exc}")
        problems += [f"{name}: missing" for name in required if name not in present]
        return problems
