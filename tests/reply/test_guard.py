"""The no-reply guard: loop guards and no backscatter, every rule both ways."""

from __future__ import annotations

import pytest

from mailbridge.message import ParsedMessage, parse_message
from mailbridge.reply.guard import GuardDecision, may_reply

AGENCY = "vanthu@phanrang.example.vn"


def make_message(
    *extra_headers: str, sender: str = AGENCY, report: bool = False
) -> ParsedMessage:
    """A plain mail from ``sender`` with ``extra_headers`` (or a delivery report)."""
    head = [
        f"From: Văn thư <{sender}>",
        "To: vanthu@bridge.example.vn",
        "Subject: Công văn 917-CV/VPTU",
        "Message-ID: <m1@phanrang.example.vn>",
        "MIME-Version: 1.0",
        *extra_headers,
    ]
    if report:
        head.append(
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"'
        )
        body = (
            "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.vn\r\n\r\n"
            "Final-Recipient: rfc822; x@example.vn\r\nAction: failed\r\n"
            "Status: 5.1.1\r\n\r\n--b--\r\n"
        )
    else:
        head.append("Content-Type: text/plain; charset=utf-8")
        body = "Kính gửi văn phòng.\r\n"
    return parse_message(("\r\n".join(head) + "\r\n\r\n" + body).encode("utf-8"))


def decide(
    msg: ParsedMessage,
    *,
    envelope_sender: str | None = AGENCY,
    registered: bool = True,
    dkim: bool = True,
) -> GuardDecision:
    """The guard's decision with the usual defaults of a registered agency."""
    return may_reply(
        msg,
        envelope_sender=envelope_sender,
        sender_registered=registered,
        dkim_passed=dkim,
    )


def test_plain_mail_from_registered_agency_is_answered() -> None:
    """An ordinary mail from a registered agency with DKIM gets a reply."""
    decision = decide(make_message())
    expected = (True, "", True)
    assert expected == (decision.allowed, decision.reason, decision.ok)


@pytest.mark.parametrize("envelope_sender", [None, "", "<>", "  "])
def test_null_envelope_sender_is_never_answered(envelope_sender: str | None) -> None:
    """A null envelope sender (bounce, notification) never gets a reply."""
    decision = decide(make_message(), envelope_sender=envelope_sender)
    expected = (False, "null envelope sender (a bounce or notification)")
    assert expected == (
        decision.allowed,
        decision.reason,
    )


@pytest.mark.parametrize(
    ("header", "expected_allowed"),
    [
        ("Auto-Submitted: no", True),
        ("Auto-Submitted: No", True),
        ("Auto-Submitted: auto-replied", False),
        ("Auto-Submitted: auto-generated", False),
        ("Auto-Submitted: auto-notified; owner-email=x@example.vn", False),
    ],
)
def test_auto_submitted_other_than_no_is_not_answered(
    header: str, expected_allowed: bool
) -> None:
    """``Auto-Submitted: no`` is a person; any other value is a machine."""
    assert expected_allowed == decide(make_message(header)).allowed


def test_auto_submitted_reason_names_the_value() -> None:
    """The refusal says which Auto-Submitted value was seen."""
    decision = decide(make_message("Auto-Submitted: auto-replied"))
    expected = "automatic mail: Auto-Submitted: auto-replied"
    assert expected == decision.reason


@pytest.mark.parametrize(
    ("header", "expected_allowed"),
    [
        ("Precedence: bulk", False),
        ("Precedence: list", False),
        ("Precedence: JUNK", False),
        ("Precedence: first-class", True),
        ("Precedence: urgent", True),
    ],
)
def test_precedence_bulk_list_junk_is_not_answered(
    header: str, expected_allowed: bool
) -> None:
    """Bulk, list and junk precedence block the reply; other values do not."""
    assert expected_allowed == decide(make_message(header)).allowed


@pytest.mark.parametrize(
    "header",
    [
        "List-Id: <thongbao.example.vn>",
        "List-Unsubscribe: <mailto:leave@example.vn>",
        "List-Post: <mailto:list@example.vn>",
        "list-help: <mailto:help@example.vn>",
    ],
)
def test_mailing_list_headers_are_not_answered(header: str) -> None:
    """Any List-* header marks list traffic, which never gets an auto-reply."""
    decision = decide(make_message(header))
    name = header.split(":", 1)[0]
    assert (False, f"automatic mail: mailing-list header {name}") == (
        decision.allowed,
        decision.reason,
    )


def test_header_that_merely_contains_list_is_answered() -> None:
    """A header that is not a List-* header (X-Listing) does not block the reply."""
    assert True is decide(make_message("X-Listing: 3")).allowed


def test_delivery_report_is_not_answered() -> None:
    """A multipart/report (DSN or MDN) is never answered, whoever sent it."""
    decision = decide(make_message(report=True))
    expected = (False, "automatic mail: a delivery or read report (multipart/report)")
    assert expected == (
        decision.allowed,
        decision.reason,
    )


@pytest.mark.parametrize(
    ("envelope_sender", "from_address", "expected_allowed"),
    [
        ("MAILER-DAEMON@mx.example.vn", AGENCY, False),
        (AGENCY, "postmaster@phanrang.example.vn", False),
        ("mailer-daemon", AGENCY, False),
        ("postmaster-office@phanrang.example.vn", AGENCY, True),
        (AGENCY, "vanthu.postmaster@phanrang.example.vn", True),
    ],
)
def test_mailer_daemon_and_postmaster_senders_are_not_answered(
    envelope_sender: str, from_address: str, expected_allowed: bool
) -> None:
    """Mail-system senders get no reply; people whose address merely resembles do."""
    msg = make_message(sender=from_address)
    assert expected_allowed == decide(msg, envelope_sender=envelope_sender).allowed


@pytest.mark.parametrize(
    ("registered", "dkim", "expected_allowed"),
    [
        (True, True, True),
        (True, False, True),
        (False, True, True),
        (False, False, False),
    ],
)
def test_no_backscatter_to_unregistered_sender_without_dkim(
    registered: bool, dkim: bool, expected_allowed: bool
) -> None:
    """An unregistered sender is answered only when its DKIM passed."""
    assert (
        expected_allowed
        == decide(make_message(), registered=registered, dkim=dkim).allowed
    )


def test_backscatter_reason_names_the_sender() -> None:
    """The refusal says which sender was neither registered nor DKIM-verified."""
    decision = decide(make_message(), registered=False, dkim=False)
    expected = (
        f"sender {AGENCY} is not a registered agency and its DKIM did not pass "
        "(no backscatter)"
    )
    assert expected == decision.reason


def test_message_without_from_is_not_answered() -> None:
    """With no From address there is nobody to answer."""
    raw = b"To: vanthu@bridge.example.vn\r\nSubject: x\r\n\r\nbody\r\n"
    decision = decide(parse_message(raw))
    expected = (False, "no From address to answer")
    assert expected == (decision.allowed, decision.reason)


def test_refusal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Every refusal leaves one line on the mailbridge.reply logger with the reason."""
    caplog.set_level("INFO", logger="mailbridge.reply")
    decide(make_message("Precedence: bulk"))
    expected = ["m1@phanrang.example.vn no reply: automatic mail: Precedence: bulk"]
    assert expected == [
        r.getMessage() for r in caplog.records if r.name == "mailbridge.reply"
    ]
