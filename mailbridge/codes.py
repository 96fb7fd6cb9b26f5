"""Codes taken word for word from SPEC.md and DOMAIN.md, and the SMTP replies.

Every value here is part of the external contract (JSON fields, reply headers, rule
conditions): change none of them; add new members only.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DOCUMENT_TYPE_NAMES",
    "STATUS_EDXML",
    "STATUS_LABELS",
    "URGENCY_LABELS",
    "URGENCY_PRIORITY",
    "Classification",
    "LegalValue",
    "MessageVerdict",
    "Reason",
    "SignatureState",
    "SmtpReply",
    "Status",
    "Urgency",
]


class Status(StrEnum):
    """Document statuses (DOMAIN.md section 6)."""

    ARRIVED = "arrived"
    ACCEPTED = "accepted"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RETURNED = "returned"
    RECALL_REQUESTED = "recall_requested"
    RECALLED = "recalled"
    RECALL_REFUSED = "recall_refused"
    DELETED = "deleted"


STATUS_LABELS: dict[Status, str] = {
    Status.ARRIVED: "Đã đến",
    Status.ACCEPTED: "Đã tiếp nhận",
    Status.FORWARDED: "Đã chuyển xử lý",
    Status.IN_PROGRESS: "Đang xử lý",
    Status.COMPLETED: "Đã hoàn thành",
    Status.RETURNED: "Từ chối nhận (trả lại)",
    Status.RECALL_REQUESTED: "Yêu cầu thu hồi",
    Status.RECALLED: "Thu hồi",
    Status.RECALL_REFUSED: "Từ chối thu hồi",
    Status.DELETED: "Xoá",
}

STATUS_EDXML: dict[Status, str | None] = {
    Status.ARRIVED: "01",
    Status.ACCEPTED: "03",
    Status.FORWARDED: "04",
    Status.IN_PROGRESS: "05",
    Status.COMPLETED: "06",
    Status.RETURNED: "02",
    Status.RECALL_REQUESTED: "13",
    Status.RECALLED: "15",
    Status.RECALL_REFUSED: "16",
    Status.DELETED: None,
}


class Reason(StrEnum):
    """Reason codes of a returned message (SPEC.md section 6, DOMAIN.md section 10)."""

    UNKNOWN_SENDER = "UNKNOWN_SENDER"
    WRONG_RECIPIENT = "WRONG_RECIPIENT"
    DKIM_MISSING = "DKIM_MISSING"
    DKIM_FAIL = "DKIM_FAIL"
    PGP_FAIL = "PGP_FAIL"
    NO_DOCUMENT = "NO_DOCUMENT"
    UNSIGNED = "UNSIGNED"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    SIGNATURE_UNTRUSTED = "SIGNATURE_UNTRUSTED"
    DOCUMENT_MODIFIED = "DOCUMENT_MODIFIED"
    CLASSIFIED = "CLASSIFIED"
    BANNED_ATTACHMENT = "BANNED_ATTACHMENT"
    MALWARE = "MALWARE"
    TOO_LARGE = "TOO_LARGE"
    MALFORMED = "MALFORMED"
    RULE = "RULE"
    RECALL_UNKNOWN = "RECALL_UNKNOWN"


class SignatureState(StrEnum):
    """Outcome of a PDF signature check, per signature and per document."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"
    UNTRUSTED = "untrusted"
    MODIFIED = "modified"


class LegalValue(StrEnum):
    """Legal force of a registered document."""

    LEGAL = "legal"
    REFERENCE = "reference"


class Urgency(StrEnum):
    """Urgency keys (DOMAIN.md section 4)."""

    THUONG = "thuong"
    KHAN = "khan"
    THUONG_KHAN = "thuong_khan"
    HOA_TOC = "hoa_toc"
    HOA_TOC_HEN_GIO = "hoa_toc_hen_gio"


URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.THUONG: "Thường",
    Urgency.KHAN: "Khẩn",
    Urgency.THUONG_KHAN: "Thượng khẩn",
    Urgency.HOA_TOC: "Hỏa tốc",
    Urgency.HOA_TOC_HEN_GIO: "Hỏa tốc hẹn giờ",
}

#: edXML ``OtherInfo/Priority`` value of each urgency; also the processing order
#: (higher first).
URGENCY_PRIORITY: dict[Urgency, int] = {
    Urgency.THUONG: 0,
    Urgency.KHAN: 1,
    Urgency.THUONG_KHAN: 2,
    Urgency.HOA_TOC: 3,
    Urgency.HOA_TOC_HEN_GIO: 4,
}


class Classification(StrEnum):
    """Classification marks: any of them means the message is refused."""

    MAT = "mat"
    TOI_MAT = "toi_mat"
    TUYET_MAT = "tuyet_mat"


class MessageVerdict(StrEnum):
    """What happened to an inbound message (``messages list``)."""

    ACCEPTED = "accepted"
    RETURNED = "returned"
    HELD = "held"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


#: Document type keys (DOMAIN.md section 3) and their Vietnamese names.
DOCUMENT_TYPE_NAMES: dict[str, str] = {
    "NQ": "Nghị quyết",
    "QD": "Quyết định",
    "QDI": "Quy định",
    "CT": "Chỉ thị",
    "KL": "Kết luận",
    "QC": "Quy chế",
    "TTRI": "Thông tri",
    "TTU": "Thông tư",
    "HD": "Hướng dẫn",
    "TB": "Thông báo",
    "TC": "Thông cáo",
    "BC": "Báo cáo",
    "TTR": "Tờ trình",
    "KH": "Kế hoạch",
    "CTR": "Chương trình",
    "DA": "Đề án",
    "DAN": "Dự án",
    "PA": "Phương án",
    "BB": "Biên bản",
    "CV": "Công văn",
    "CD": "Công điện",
    "GM": "Giấy mời",
    "GGT": "Giấy giới thiệu",
    "BS": "Bản sao",
    "ND": "Nghị định",
    "OTHER": "Khác",
}


class SmtpReply(StrEnum):
    """SMTP replies with enhanced status codes (RFC 3463), in one place."""

    OK = "250 2.0.0 OK: queued as {spool_id}"
    RCPT_OK = "250 2.1.5 Recipient OK"
    UNKNOWN_USER = "550 5.1.1 No such recipient here"
    RELAY_DENIED = "550 5.7.1 Relaying denied: this gateway accepts mail for its own addresses only"
    TOO_LARGE = "552 5.3.4 Message too big for this gateway (limit {limit} bytes)"
    TLS_REQUIRED = "530 5.7.0 Must issue a STARTTLS command first"
    CANNOT_STORE = "451 4.3.0 Could not store the message: try again later"
    SHUTTING_DOWN = "421 4.3.2 Service shutting down: try again later"
