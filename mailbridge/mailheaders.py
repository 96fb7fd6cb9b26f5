"""Mail headers that survive Python 3.11's folding of non-ASCII text.

The ``policy.default`` folder of Python 3.11 drops or adds spaces between encoded
words (a Vietnamese subject came back as "thư códấu"). Every header mailbridge writes
with Vietnamese text goes through :func:`safe_header`.
"""

from __future__ import annotations

import sys
from email.charset import Charset
from email.header import Header
from email.headerregistry import (
    Address,
    BaseHeader,
    HeaderRegistry,
    UniqueAddressHeader,
    UniqueUnstructuredHeader,
)
from email.policy import Policy
from email.utils import formataddr
from typing import Any

__all__ = ["safe_header"]


def _encode_words(text: str, name: str, policy: Policy) -> str:
    """``text`` as RFC 2047 encoded words, folded, with every space kept."""
    maxlen = policy.max_line_length or 0
    header = Header(text, "utf-8", header_name=name)
    return header.encode(linesep=policy.linesep, maxlinelen=maxlen)


class _Rfc2047Subject(UniqueUnstructuredHeader, BaseHeader):  # type: ignore[misc]  # typeshed's mixin/BaseHeader attribute types clash; HeaderRegistry combines them the same way
    """An unstructured header that folds non-ASCII text with the legacy encoder.

    The ``policy.default`` folder of Python 3.11 drops or adds spaces between
    encoded words (a Vietnamese subject came back as "thư códấu"); the legacy
    :class:`email.header.Header` encoder keeps them.
    """

    def fold(self, *, policy: Policy) -> str:
        if str(self).isascii():
            return super().fold(policy=policy)
        words = _encode_words(str(self), self.name, policy)
        return f"{self.name}: {words}{policy.linesep}"


class _Rfc2047Address(UniqueAddressHeader, BaseHeader):  # type: ignore[misc]  # as for _Rfc2047Subject
    """A single-address header whose non-ASCII display name is one encoded word.

    One word, because readers disagree on the space between adjacent encoded words
    in a display name (Python 3.11 adds one, RFC 2047 says none).
    """

    def fold(self, *, policy: Policy) -> str:
        if not all(a.addr_spec.isascii() for a in self.addresses):
            return super().fold(policy=policy)  # not an address this class can fix
        maxlen = policy.max_line_length or sys.maxsize
        rendered = []
        for address in self.addresses:
            name, spec = address.display_name, address.addr_spec
            if not name or name.isascii():
                rendered.append(formataddr((name, spec)))
                continue
            word = Charset("utf-8").header_encode(name)
            gap = (
                " "
                if len(f"{self.name}: {word} <{spec}>,") <= maxlen
                else policy.linesep + " "
            )
            rendered.append(f"{word}{gap}<{spec}>")
        return f"{self.name}: {', '.join(rendered)}{policy.linesep}"


_REGISTRY = HeaderRegistry()
_REGISTRY.map_to_type("subject", _Rfc2047Subject)
_REGISTRY.map_to_type("from", _Rfc2047Address)
_REGISTRY.map_to_type("to", _Rfc2047Address)


def safe_header(name: str, value: str | Address) -> Any:
    """A header object for ``msg[name] = ...`` that folds Vietnamese text correctly.

    Subject, From and To get the careful folders above; other names fall back to the
    standard registry.
    """
    return _REGISTRY(name, value)
