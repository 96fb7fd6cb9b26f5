"""Urgency from the Subject orders the spool: hỏa tốc is processed first."""

from __future__ import annotations

import pytest

from mailbridge.ingest.priority import urgency_hint
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.spool import Envelope, Spool


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("HỎA TỐC HẸN GIỜ - Giấy mời họp", 4),
        ("hoả tốc: công văn số 12-CV/VPTU", 3),
        ("HỎA TỐC - Công văn số 12-CV/VPTU", 3),
        ("Thượng khẩn: kế hoạch phòng chống bão", 2),
        ("[KHẨN] V/v báo cáo nhanh", 1),
        ("Công văn số 917-CV/VPTU về việc hội nghị", 0),
    ],
)
def test_urgency_hint_reads_the_subject(subject: str, expected: int) -> None:
    """Old and new tone placement, any case, encoded-word subjects."""
    assert expected == urgency_hint(to_bytes(document_mail(subject=subject)))


def test_unreadable_headers_give_no_hint() -> None:
    """Garbage bytes are not an error here: the pipeline judges them later."""
    assert 0 == urgency_hint(b"\xff\xfe not a mail")


def test_spool_claims_flash_documents_first(tmp_path) -> None:
    """Of three waiting messages, the hỏa tốc one is claimed first, then by arrival."""
    spool = Spool(tmp_path / "spool")
    ids = []
    for subject in ("Công văn thường", "HỎA TỐC - điều động", "Công văn thứ ba"):
        raw = to_bytes(document_mail(subject=subject))
        envelope = Envelope(
            None, (), "2026-12-01T09:00:00+07:00", priority=urgency_hint(raw)
        )
        ids.append(spool.put(raw, envelope))
    order = []
    while (item := spool.claim()) is not None:
        order.append(item.spool_id)
        spool.done(item)
    assert [ids[1], ids[0], ids[2]] == order
