"""The exceptions mailbridge raises, in one tree.

::

    MailbridgeError
      ConfigError               (file, line, key)
      SpoolError
      VerificationUnavailable   (DNS down, scanner down, trust store unreadable:
                                 retry later, never a "fail" verdict)
      RegisterError
        IllegalTransition       (the API maps it to 409)
        DuplicateDocument
        NotFound
      DeliveryError
        TemporaryDeliveryError
        PermanentDeliveryError

A rejected message is *not* an exception: it is a :class:`~mailbridge.policy.verdict.Verdict`
with a :class:`~mailbridge.codes.Reason`.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConfigIssue",
    "DeliveryError",
    "DuplicateDocument",
    "IllegalTransition",
    "MailbridgeError",
    "NotFound",
    "PermanentDeliveryError",
    "RegisterError",
    "SpoolError",
    "TemporaryDeliveryError",
    "VerificationUnavailable",
]

from dataclasses import dataclass


class MailbridgeError(Exception):
    """Base of every error mailbridge raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file: where it is and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(MailbridgeError):
    """The configuration (mailbridge.yaml, agencies, rules) is invalid.

    Carries every issue found, each naming the file, line and key.
    """

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class SpoolError(MailbridgeError):
    """The spool could not store or move a message."""


class VerificationUnavailable(MailbridgeError):
    """A check could not be evaluated now (DNS timeout, scanner down).

    The message is retried later; this never becomes a rejection.
    """


class RegisterError(MailbridgeError):
    """The register refused an operation."""


class IllegalTransition(RegisterError):
    """A status change that DOMAIN.md section 6 does not allow."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"cannot change status from {current} to {target}")


class DuplicateDocument(RegisterError):
    """The same document (Message-ID or PDF bytes) is already registered."""


class NotFound(RegisterError):
    """No such document, message or outbound document."""


class DeliveryError(MailbridgeError):
    """Handing a mail to the smarthost failed."""


class TemporaryDeliveryError(DeliveryError):
    """The smarthost is down or answered 4xx: retry with backoff."""


class PermanentDeliveryError(DeliveryError):
    """The smarthost answered 5xx: do not retry."""
