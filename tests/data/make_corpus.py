"""Generate the labelled classification/metadata corpus in tests/data/corpus/.

Run ``python tests/data/make_corpus.py``: it rewrites every file and labels.yaml.
The output is deterministic (reportlab's invariant mode, fixed mail headers and
MIME boundaries), so running it again gives the same files and the same labels.
Every agency, person and number in it is fictional.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import unicodedata
import zipfile
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

from mailbridge.codes import URGENCY_PRIORITY, Urgency
from mailbridge.extract.normalise import normalise
from mailbridge.sample.document import DocumentSpec, render_pdf, render_scanned_pdf

CORPUS = Path(__file__).resolve().parent / "corpus"
D = dt.date

URGENCY = {
    None: "thuong",
    "KHẨN": "khan",
    "THƯỢNG KHẨN": "thuong_khan",
    "HỎA TỐC": "hoa_toc",
    "HOẢ TỐC": "hoa_toc",
    "HỎA TỐC HẸN GIỜ": "hoa_toc_hen_gio",
}
TYPES = {
    None: "CV",
    "QUYẾT ĐỊNH": "QD",
    "QUY ĐỊNH": "QDI",
    "NGHỊ QUYẾT": "NQ",
    "CHỈ THỊ": "CT",
    "KẾT LUẬN": "KL",
    "THÔNG TRI": "TTRI",
    "THÔNG TƯ": "TTU",
    "HƯỚNG DẪN": "HD",
    "THÔNG BÁO": "TB",
    "BÁO CÁO": "BC",
    "TỜ TRÌNH": "TTR",
    "KẾ HOẠCH": "KH",
    "CHƯƠNG TRÌNH": "CTR",
    "CÔNG ĐIỆN": "CD",
    "GIẤY MỜI": "GM",
    "NGHỊ ĐỊNH": "ND",
    "QUY CHẾ": "QC",
    "PHƯƠNG ÁN": "PA",
}

PARTY = DocumentSpec()
STATE = DocumentSpec(
    party=False,
    superior="ỦY BAN NHÂN DÂN",
    issuer="TỈNH KHÁNH HÒA",
    number_symbol="123/UBND-VP",
    abstract="triển khai công tác chuyển đổi số năm 2026",
    to=("Các sở, ban, ngành thuộc tỉnh",),
    body=("Ủy ban nhân dân tỉnh đề nghị các cơ quan, đơn vị triển khai thực hiện.",),
    authority="TL. CHỦ TỊCH",
    position="CHÁNH VĂN PHÒNG",
    signer="Lê Thị Hoa",
    distribution=("Như trên;", "Lưu: VT, KSTT."),
)

PROSE = {
    "bi_mat": "Các cơ quan thực hiện nghiêm quy định về bảo vệ bí mật nhà nước trong "
    "quá trình soạn thảo, gửi nhận văn bản điện tử.",
    "mat_khau": "Cán bộ thay đổi mật khẩu hộp thư công vụ định kỳ và không dùng mật mã "
    "dân sự cho văn bản của cơ quan.",
    "mat_do": "Mật độ dân số của tỉnh tăng; quan hệ phối hợp giữa các sở phải mật "
    "thiết hơn nữa.",
    "do_mat": "Văn bản có độ Mật, Tối mật, Tuyệt mật không được gửi qua mạng Internet; "
    "chỉ gửi văn bản không có độ mật.",
    "citation": "Căn cứ Quy định số 269-QĐ/TW, ngày 25/11/2014 của Ban Bí thư và "
    "Hướng dẫn số 11-HD/VPTW, ngày 28/5/2021 của Văn phòng Trung ương Đảng.",
    "deadline": "Đề nghị các cơ quan gửi báo cáo về Văn phòng trước ngày 15/12/2026 "
    "để tổng hợp.",
}


@dataclasses.dataclass(frozen=True)
class Item:
    """One corpus item and its labels."""

    name: str
    spec: DocumentSpec
    classification: str = "none"
    outcome: str = "clear"
    subject: str | None = None  # an .eml with the PDF attached
    mail_body: str = "Kính gửi Quý cơ quan, xin gửi văn bản đính kèm."
    scanned: bool = False
    nfd_subject: bool = False  # the subject header in decomposed form
    annex: dict[str, str] | None = None  # {"kind": "docx"|"edxml"|"zip", "text": …}
    expected_urgency: str | None = None  # when it is not the PDF's mark
    attachment_name: str | None = None
    note: str = ""


# One item per line: the base spec ("party" or "state"), the DocumentSpec fields
# that differ from it (paragraphs may name a PROSE entry), and the Item fields.
ITEMS = """
# clean Party documents
party-cv-01: {base: party, body: [deadline]}
party-cv-02: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 1301-CV/TU, date: 2026-03-02, abstract: góp ý dự thảo báo cáo chính trị, to: [Các đảng ủy trực thuộc]}
party-cv-khan: {base: party, number_symbol: 452-CV/VPTU, date: 2026-09-07, abstract: tổ chức hội nghị trực tuyến toàn tỉnh, urgency: KHẨN}
party-cv-citation: {base: party, number_symbol: 88-CV/VPTU, body: [citation, bi_mat]}
party-qd-quyetdinh: {base: party, superior: BAN CHẤP HÀNH TRUNG ƯƠNG, issuer: BAN BÍ THƯ, number_symbol: 217-QĐ/TW, place: Hà Nội, date: 2026-01-02, type_name: QUYẾT ĐỊNH, abstract: 'ban hành Quy chế gửi, nhận văn bản điện tử', authority: T/M BAN BÍ THƯ, position: THƯỜNG TRỰC, signer: Trần Văn Bình}
party-qd-quydinh: {base: party, superior: BAN CHẤP HÀNH TRUNG ƯƠNG, issuer: BAN BÍ THƯ, number_symbol: 269-QĐ/TW, place: Hà Nội, date: 2026-11-25, type_name: QUY ĐỊNH, abstract: về giao dịch điện tử trong hoạt động của các cơ quan đảng, authority: T/M BAN BÍ THƯ, position: THƯỜNG TRỰC, signer: Trần Văn Bình, note: 'QĐ in the symbol, QUY ĐỊNH on the type line'}
party-qdi: {base: party, superior: BAN CHẤP HÀNH TRUNG ƯƠNG, issuer: BỘ CHÍNH TRỊ, number_symbol: 08-QĐi/TW, place: Hà Nội, date: 2026-10-25, type_name: QUY ĐỊNH, abstract: 'trách nhiệm nêu gương của cán bộ, đảng viên', authority: T/M BỘ CHÍNH TRỊ}
party-thongtri: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 05-TT/TU, type_name: THÔNG TRI, abstract: về lãnh đạo tổ chức đại hội chi bộ nhiệm kỳ 2027 - 2029, authority: T/M BAN THƯỜNG VỤ, position: BÍ THƯ, signer: Phạm Quốc Hùng, note: TT is Thông tri in a Party symbol}
party-nghiquyet: {base: party, issuer: BAN CHẤP HÀNH, number_symbol: 12-NQ/TU, date: 2026-06-30, type_name: NGHỊ QUYẾT, abstract: về chuyển đổi số trong các cơ quan đảng đến năm 2030, urgency: THƯỢNG KHẨN, authority: T/M TỈNH ỦY, position: BÍ THƯ, signer: Phạm Quốc Hùng}
party-chithi: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 20-CT/TU, type_name: CHỈ THỊ, abstract: về tăng cường công tác bảo vệ bí mật nhà nước, body: [bi_mat], authority: T/M BAN THƯỜNG VỤ, position: PHÓ BÍ THƯ THƯỜNG TRỰC, signer: Đỗ Minh Tâm}
party-ketluan: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 35-KL/TU, type_name: KẾT LUẬN, abstract: của Ban Thường vụ Tỉnh ủy về tình hình kinh tế - xã hội quý III năm 2026, authority: T/M BAN THƯỜNG VỤ, position: PHÓ BÍ THƯ, signer: Đỗ Minh Tâm}
party-baocao: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 123-BC/TU, type_name: BÁO CÁO, abstract: tình hình thực hiện nhiệm vụ năm 2026 và phương hướng năm 2027, later_pages: [[mat_do, do_mat]], authority: T/M BAN THƯỜNG VỤ, position: BÍ THƯ, signer: Phạm Quốc Hùng}
party-kehoach: {base: party, issuer: BAN THƯỜNG VỤ, number_symbol: 45-KH/TU, place: Khánh Hoà, type_name: KẾ HOẠCH, abstract: tổ chức các hoạt động kỷ niệm 97 năm Ngày thành lập Đảng, urgency: HOẢ TỐC, authority: T/M BAN THƯỜNG VỤ, position: PHÓ BÍ THƯ, signer: Đỗ Minh Tâm, note: new-style tone placement}
party-thongbao: {base: party, number_symbol: 67-TB/VPTU, date: 2026-02-14, type_name: THÔNG BÁO, abstract: kết luận của Thường trực Tỉnh ủy tại buổi làm việc với Sở Y tế}
party-totrinh: {base: party, number_symbol: 917-TTr/VPTU, date: 2026-12-01, type_name: TỜ TRÌNH, abstract: đề nghị phê duyệt dự toán kinh phí năm 2027}
party-huongdan: {base: party, issuer: BAN TUYÊN GIÁO, number_symbol: 10-HD/BTGTU, type_name: HƯỚNG DẪN, abstract: tuyên truyền kỷ niệm các ngày lễ lớn năm 2027, notes: [LƯU HÀNH NỘI BỘ], authority: K/T TRƯỞNG BAN, position: PHÓ TRƯỞNG BAN, signer: Vũ Thị Lan}
party-chuongtrinh: {base: party, issuer: BAN CHẤP HÀNH, number_symbol: 05-CTr/TU, type_name: CHƯƠNG TRÌNH, abstract: hành động thực hiện Nghị quyết Đại hội Đảng bộ tỉnh, authority: T/M TỈNH ỦY, position: BÍ THƯ, signer: Phạm Quốc Hùng, nfd: true, note: NFD text layer}
party-giaymoi: {base: party, number_symbol: 25-GM/VPTU, type_name: GIẤY MỜI, abstract: dự hội nghị giao ban công tác văn phòng cấp ủy, urgency: HỎA TỐC HẸN GIỜ}
party-cv-nfd: {base: party, number_symbol: 330-CV/VPTU, abstract: cung cấp thông tin phục vụ đoàn kiểm tra của Trung ương, urgency: HỎA TỐC, nfd: true, note: NFD text layer}
party-cv-giaimat: {base: party, number_symbol: 501-CV/VPTU, abstract: phổ biến tài liệu đã được giải mật, notes: [GIẢI MẬT, 'Từ: 01/06/2026'], note: GIẢI MẬT is not a mark}
party-cv-multipage: {base: party, number_symbol: 612-CV/VPTU, body: [mat_khau], later_pages: [[do_mat, citation], [mat_do]]}
party-qd-draft: {base: party, number_symbol: '   -QĐ/TU', date: null, type_name: QUYẾT ĐỊNH, abstract: thành lập Tổ công tác chuyển đổi số, notes: [DỰ THẢO], note: 'draft: blank number and date'}
# clean State documents
state-cv-01: {base: state, body: [deadline]}
state-cv-02: {base: state, superior: BỘ TÀI CHÍNH, issuer: '', number_symbol: 4567/BTC-NSNN, place: Hà Nội, date: 2026-04-09, abstract: hướng dẫn lập dự toán ngân sách nhà nước năm 2027, authority: KT. BỘ TRƯỞNG, position: THỨ TRƯỞNG, signer: Hoàng Văn Khải}
state-cv-khan: {base: state, number_symbol: 2210/UBND-KT, date: 2026-10-28, abstract: khắc phục hậu quả mưa lũ tại các huyện miền núi, urgency: KHẨN}
state-cv-thuongkhan: {base: state, number_symbol: 2211/UBND-KT, date: 2026-10-29, abstract: sơ tán dân khỏi vùng nguy hiểm, urgency: THƯỢNG KHẨN}
state-cv-prose: {base: state, number_symbol: 3001/UBND-VP, abstract: hướng dẫn sử dụng hệ thống thư điện tử công vụ, body: [mat_khau, mat_do]}
state-qd: {base: state, number_symbol: 1500/QĐ-UBND, type_name: QUYẾT ĐỊNH, abstract: Về việc ban hành Quy chế làm việc của Ủy ban nhân dân tỉnh nhiệm kỳ 2026 - 2031, later_pages: [[Điều 2. Quyết định này có hiệu lực kể từ ngày ký.]], authority: TM. ỦY BAN NHÂN DÂN, position: CHỦ TỊCH, signer: Trần Thị Bình}
state-qd-cucthue: {base: state, superior: TỔNG CỤC THUẾ, issuer: CỤC THUẾ TỈNH KHÁNH HÒA, number_symbol: 1234/QĐ-CT, type_name: QUYẾT ĐỊNH, abstract: Về việc hoàn thuế giá trị gia tăng, authority: null, position: CỤC TRƯỞNG, signer: Ngô Văn Phúc, note: CT is an agency here}
state-nd: {base: state, superior: '', issuer: CHÍNH PHỦ, number_symbol: 30/2020/NĐ-CP, place: Hà Nội, date: 2020-03-05, type_name: NGHỊ ĐỊNH, abstract: Về công tác văn thư, authority: TM. CHÍNH PHỦ, position: THỦ TƯỚNG, signer: Nguyễn Xuân Phương}
state-tt: {base: state, superior: '', issuer: BỘ NỘI VỤ, number_symbol: 01/2011/TT-BNV, place: Hà Nội, date: 2011-01-19, type_name: THÔNG TƯ, abstract: Hướng dẫn thể thức và kỹ thuật trình bày văn bản hành chính, authority: null, position: BỘ TRƯỞNG, signer: Trần Văn Tuấn, note: TT is Thông tư in a state symbol}
state-chithi: {base: state, number_symbol: 05/CT-UBND, type_name: CHỈ THỊ, abstract: 'Về tăng cường kỷ luật, kỷ cương hành chính', body: [bi_mat], authority: TM. ỦY BAN NHÂN DÂN, position: CHỦ TỊCH, signer: Trần Thị Bình}
state-thongbao: {base: state, number_symbol: 88/TB-UBND, place: Nha Trang, type_name: THÔNG BÁO, abstract: Kết luận của Chủ tịch Ủy ban nhân dân tỉnh tại cuộc họp giao ban tháng 11}
state-kehoach: {base: state, number_symbol: 210/KH-UBND, type_name: KẾ HOẠCH, abstract: Thực hiện công tác cải cách hành chính năm 2027, urgency: KHẨN, nfd: true}
state-baocao: {base: state, number_symbol: 345/BC-UBND, type_name: BÁO CÁO, abstract: Tình hình kinh tế - xã hội tháng 11 năm 2026, body: [do_mat], later_pages: [[mat_do]]}
state-totrinh: {base: state, superior: UBND TỈNH KHÁNH HÒA, issuer: SỞ NỘI VỤ, number_symbol: 77/TTr-SNV, type_name: TỜ TRÌNH, abstract: Đề nghị phê duyệt Đề án vị trí việc làm, authority: KT. GIÁM ĐỐC, position: PHÓ GIÁM ĐỐC, signer: Đặng Thu Trang}
state-congdien: {base: state, number_symbol: 03/CĐ-UBND, date: 2026-11-03, type_name: CÔNG ĐIỆN, abstract: Về việc chủ động ứng phó với bão số 9, urgency: HỎA TỐC}
state-giaymoi: {base: state, number_symbol: 19/GM-UBND, place: Khánh Hoà, type_name: GIẤY MỜI, abstract: Dự hội nghị tổng kết công tác năm 2026}
state-quyche: {base: state, number_symbol: 02/QC-UBND, type_name: QUY CHẾ, abstract: Bảo vệ bí mật nhà nước trên địa bàn tỉnh, body: [bi_mat, do_mat]}
state-phuongan: {base: state, number_symbol: 15/PA-UBND, type_name: PHƯƠNG ÁN, abstract: 'Phòng, chống thiên tai năm 2027', later_pages: [[mat_khau]]}
party-cv-colon: {base: party, number_symbol: 15-CV/TU, number_colon: true, zero_pad: false, date: 2026-03-05, place: Bà Rịa - Vũng Tàu, abstract: triển khai Nghị quyết số 12-NQ/TU của Tỉnh ủy về Chương trình chuyển đổi số và Đề án 06 của Chính phủ, note: "a colon after Số, a long abstract, no zero padding"}
state-cv-longabstract: {base: state, number_symbol: 4100/UBND-VX, zero_pad: false, date: 2026-07-09, abstract: Thực hiện Kế hoạch số 210/KH-UBND ngày 12/3/2026 của Ủy ban nhân dân tỉnh về Tháng hành động vì an toàn thực phẩm}
# clean mails: the subject carries the number or the urgency
mail-clean-01: {base: state, number_symbol: 3050/UBND-VP, abstract: góp ý dự thảo Luật Lưu trữ, subject: Số 3050/UBND-VP - V/v góp ý dự thảo Luật Lưu trữ}
mail-clean-prose: {base: party, number_symbol: 777-CV/VPTU, subject: Mật khẩu hộp thư công vụ - hướng dẫn đổi, mail_body: Xin gửi hướng dẫn về mật khẩu và mật mã.}
mail-clean-bimat: {base: party, number_symbol: 778-CV/VPTU, abstract: tập huấn công tác bảo vệ bí mật nhà nước, subject: V/v tập huấn công tác bảo vệ bí mật nhà nước}
mail-urgency-subject: {base: state, number_symbol: 3100/UBND-KT, abstract: báo cáo nhanh thiệt hại do bão, subject: HỎA TỐC - Số 3100/UBND-KT báo cáo nhanh thiệt hại do bão, expected_urgency: hoa_toc}
mail-giaimat: {base: party, number_symbol: 779-CV/VPTU, subject: GIẢI MẬT - tài liệu lưu trữ năm 1990}
state-cv-xemxong: {base: state, number_symbol: 3012/UBND-VP, notes: [XEM XONG TRẢ LẠI], abstract: 'cung cấp tài liệu họp, xem xong trả lại'}
party-quydinh-caps: {base: party, number_symbol: 14-QĐi/TU, type_name: QUY ĐỊNH, abstract: BẢO VỆ BÍ MẬT NHÀ NƯỚC TRONG CÁC CƠ QUAN ĐẢNG CỦA TỈNH, body: [bi_mat, do_mat], note: a title in capitals that names secrecy}
mail-docx-clean: {base: party, number_symbol: 780-CV/VPTU, subject: Gửi công văn 780-CV/VPTU kèm phụ lục, annex: {kind: docx, text: "PHỤ LỤC\\nDanh sách cán bộ được cấp mật khẩu hộp thư\\nBảo đảm bí mật nhà nước theo quy định."}}
mail-edxml-clean: {base: state, number_symbol: 3300/UBND-VP, type_name: KẾ HOẠCH, abstract: Tổ chức Hội chợ xuân năm 2027, urgency: KHẨN, subject: Gửi kế hoạch 3300/UBND-VP, annex: {kind: edxml}}
# classified: stamps in the PDF
stamp-party-mat: {base: party, number_symbol: 901-CV/VPTU, stamp: MẬT, classification: mat, outcome: classified}
stamp-party-toimat: {base: party, number_symbol: 45-NQ/TU, type_name: NGHỊ QUYẾT, abstract: 'về công tác quốc phòng, an ninh', stamp: TỐI MẬT, classification: toi_mat, outcome: classified}
stamp-party-tuyetmat: {base: party, number_symbol: 03-QĐ/TW, type_name: QUYẾT ĐỊNH, abstract: về nhân sự, stamp: TUYỆT MẬT, classification: tuyet_mat, outcome: classified}
stamp-state-mat: {base: state, number_symbol: 3200/UBND-NC, stamp: MẬT, classification: mat, outcome: classified}
stamp-state-toimat-khan: {base: state, number_symbol: 3201/UBND-NC, urgency: HỎA TỐC, stamp: TỐI MẬT, classification: toi_mat, outcome: classified}
stamp-state-tuyetmat: {base: state, number_symbol: 12/KH-UBND, type_name: KẾ HOẠCH, abstract: Diễn tập khu vực phòng thủ, stamp: TUYỆT MẬT, classification: tuyet_mat, outcome: classified}
stamp-nfd: {base: party, number_symbol: 902-CV/VPTU, stamp: TỐI MẬT, nfd: true, classification: toi_mat, outcome: classified, note: NFD text layer}
stamp-page2: {base: state, number_symbol: 3202/UBND-NC, later_stamps: [[1, MẬT]], later_pages: [[citation]], classification: mat, outcome: classified, note: stamp on page 2 only}
stamp-page3: {base: party, number_symbol: 903-CV/VPTU, later_stamps: [[2, TUYỆT MẬT]], later_pages: [[mat_do], [mat_khau]], classification: tuyet_mat, outcome: classified, note: stamp on page 3 only}
stamp-domat-field: {base: state, number_symbol: 3203/UBND-NC, notes: ['Độ mật: Mật'], classification: mat, outcome: classified}
stamp-domat-toimat: {base: party, number_symbol: 904-CV/VPTU, notes: ['ĐỘ MẬT: TỐI MẬT'], classification: toi_mat, outcome: classified}
stamp-with-giaimat-prose: {base: state, number_symbol: 3204/UBND-NC, stamp: MẬT, body: [do_mat], classification: mat, outcome: classified}
stamp-mojibake-unicode-stamp: {base: party, number_symbol: 905-CV/VPTU, stamp: MẬT, mojibake: true, classification: mat, outcome: classified, note: 'legacy text layer, the stamp itself readable'}
scan-stamp: {base: party, number_symbol: 906-CV/VPTU, stamp: MẬT, classification: mat, outcome: classified, scanned: true, note: 'image only: OCR reads the stamp'}
stamp-image-party: {base: party, number_symbol: 914-CV/VPTU, stamp_image: MẬT, classification: mat, outcome: classified, note: the stamp is an image on a text page}
stamp-image-state: {base: state, number_symbol: 16/KH-UBND, type_name: KẾ HOẠCH, abstract: Bảo vệ an ninh chính trị nội bộ, stamp_image: TUYỆT MẬT, classification: tuyet_mat, outcome: classified, note: the stamp is an image on a text page}
# classified: subject, body, file name
subject-mat-dash: {base: party, number_symbol: 907-CV/VPTU, classification: mat, outcome: classified, subject: MẬT - Kế hoạch bảo vệ an ninh trật tự dịp Tết}
subject-mat-bracket: {base: state, number_symbol: 3205/UBND-NC, classification: mat, outcome: classified, subject: '[MẬT] Báo cáo tình hình an ninh quý IV'}
subject-toimat-colon: {base: state, number_symbol: 3206/UBND-NC, classification: toi_mat, outcome: classified, subject: 'TỐI MẬT: Thông báo kết luận của Thường trực'}
subject-tuyetmat-fwd: {base: party, number_symbol: 908-CV/VPTU, classification: tuyet_mat, outcome: classified, subject: 'Fwd: TUYỆT MẬT - Phương án bảo vệ'}
subject-mat-lower-bracket: {base: party, number_symbol: 909-CV/VPTU, classification: mat, outcome: classified, subject: 'Re: [Mật] góp ý dự thảo'}
subject-mat-end: {base: state, number_symbol: 3207/UBND-NC, classification: mat, outcome: classified, subject: Kế hoạch diễn tập phòng thủ - MẬT}
subject-nfd: {base: state, number_symbol: 3208/UBND-NC, classification: toi_mat, outcome: classified, subject: TỐI MẬT - Báo cáo chuyên đề, nfd_subject: true}
body-domat: {base: state, number_symbol: 3209/UBND-NC, classification: mat, outcome: classified, subject: Gửi văn bản, mail_body: "Kính gửi Văn phòng,\\nĐộ mật: Mật\\nXin gửi kèm văn bản."}
filename-mat: {base: party, number_symbol: 910-CV/VPTU, classification: mat, outcome: classified, subject: Gửi văn bản số 910-CV/VPTU, attachment_name: MAT_910-CV-VPTU.pdf}
docx-mat: {base: party, number_symbol: 913-CV/VPTU, classification: mat, outcome: classified, subject: Gửi công văn kèm phụ lục, annex: {kind: docx, text: "MẬT\\nPHỤ LỤC\\nDanh sách lực lượng"}, note: the mark is in the Word annex}
edxml-mat: {base: state, number_symbol: 3212/UBND-NC, classification: mat, outcome: classified, subject: Gửi văn bản, annex: {kind: edxml, text: "[MẬT] Phương án bảo vệ mục tiêu"}, note: the mark is in the edXML subject}
# cannot be cleared: held for a clerk
scan-clean: {base: party, number_symbol: 911-CV/VPTU, outcome: uncertain, scanned: true, note: 'image only: OCR finds no stamp, which proves nothing'}
scan-clean-state: {base: state, number_symbol: 3210/UBND-VP, type_name: THÔNG BÁO, abstract: Lịch làm việc tuần 48, outcome: uncertain, scanned: true}
mojibake-party: {base: party, number_symbol: 912-CV/VPTU, mojibake: true, outcome: uncertain, note: TCVN3 text layer}
mojibake-state: {base: state, number_symbol: 3211/UBND-VP, type_name: QUYẾT ĐỊNH, abstract: Về việc thành lập Hội đồng thi đua, mojibake: true, outcome: uncertain, note: TCVN3 text layer}
zip-annex: {base: state, number_symbol: 3213/UBND-VP, outcome: uncertain, subject: Gửi văn bản kèm tệp nén, annex: {kind: zip, text: Danh sách}, note: an archive cannot be cleared}
"""


def _paragraphs(values: list[str]) -> tuple[str, ...]:
    return tuple(PROSE.get(value, value) for value in values)


def _spec(fields: dict[str, Any]) -> DocumentSpec:
    base = PARTY if fields.pop("base") == "party" else STATE
    if "body" in fields:
        fields["body"] = _paragraphs(fields["body"])
    if "later_pages" in fields:
        fields["later_pages"] = tuple(_paragraphs(p) for p in fields["later_pages"])
    if "later_stamps" in fields:
        fields["later_stamps"] = tuple(
            (int(page), text) for page, text in fields["later_stamps"]
        )
    for key in ("notes", "to", "distribution"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return dataclasses.replace(base, **fields)


def items() -> list[Item]:
    """The corpus items, in file order."""
    item_keys = {f.name for f in dataclasses.fields(Item)} - {"name", "spec"}
    out: list[Item] = []
    for name, fields in yaml.safe_load(ITEMS).items():
        own = {key: fields.pop(key) for key in list(fields) if key in item_keys}
        out.append(Item(name=name, spec=_spec(fields), **own))
    return out


def expected_abstract(spec: DocumentSpec) -> str:
    text = normalise(spec.abstract)
    return re.sub(r"^(?:Về việc|về việc|V/v)\s+", "", text).strip(" .")


_FIXED_TIME = (2026, 11, 20, 9, 0, 0)
_EDXML = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(zipfile.ZipInfo(name, _FIXED_TIME), text.encode())
    return buffer.getvalue()


def _docx(text: str) -> bytes:
    """A minimal Word document, one paragraph per line of ``text``."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraphs = "".join(
        f"<w:p><w:r><w:t>{escape(line)}</w:t></w:r></w:p>" for line in text.split("\n")
    )
    return _zip(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
            "word/document.xml": f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<w:document xmlns:w="{w}"><w:body>{paragraphs}</w:body></w:document>',
        }
    )


def _edxml(spec: DocumentSpec, subject: str | None) -> bytes:
    """An edXML document package describing ``spec``."""
    number, _, notation = re.split(r"([-/])", spec.number_symbol, maxsplit=1)
    date = spec.date.strftime("%Y/%m/%d") if spec.date else ""
    priority = URGENCY_PRIORITY[Urgency(URGENCY[spec.urgency])]
    type_name = (spec.type_name or "Công văn").capitalize()
    fields = (
        f"<edXML:From><edXML:OrganId>A32.01</edXML:OrganId>"
        f"<edXML:OrganName>{escape(spec.issuer)}</edXML:OrganName></edXML:From>"
        f"<edXML:Code><edXML:CodeNumber>{number}</edXML:CodeNumber>"
        f"<edXML:CodeNotation>{escape(notation)}</edXML:CodeNotation></edXML:Code>"
        f"<edXML:PromulgationInfo><edXML:Place>{escape(spec.place)}</edXML:Place>"
        f"<edXML:PromulgationDate>{date}</edXML:PromulgationDate>"
        f"</edXML:PromulgationInfo>"
        f"<edXML:DocumentType><edXML:TypeName>{type_name}</edXML:TypeName>"
        f"</edXML:DocumentType>"
        f"<edXML:Subject>{escape(subject or spec.abstract)}</edXML:Subject>"
        f"<edXML:SignerInfo><edXML:FullName>{escape(spec.signer)}</edXML:FullName>"
        f"</edXML:SignerInfo>"
        f"<edXML:OtherInfo><edXML:Priority>{priority}</edXML:Priority>"
        f"</edXML:OtherInfo>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><edXML:edXML xmlns:edXML="{_EDXML}">'
        f"<edXML:edXMLEnvelope><edXML:edXMLHeader><edXML:MessageHeader>{fields}"
        f"</edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML:edXML>"
    ).encode()


def _annex(msg: EmailMessage, item: Item) -> None:
    annex = item.annex or {}
    kind = annex.get("kind")
    if kind == "docx":
        data = _docx(annex["text"])
        subtype = "vnd.openxmlformats-officedocument.wordprocessingml.document"
        msg.add_attachment(data, "application", subtype, filename="phu-luc.docx")
    elif kind == "edxml":
        data = _edxml(item.spec, annex.get("text"))
        msg.add_attachment(data, "application", "xml", filename="edxml.xml")
    elif kind == "zip":
        data = _zip({"phu-luc.txt": annex["text"]})
        msg.add_attachment(data, "application", "zip", filename="phu-luc.zip")


def _eml(item: Item, pdf: bytes, index: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Văn thư <vanthu@vanphong.example.vn>"
    msg["To"] = "congvan@bridge.example.vn"
    subject = item.subject or "Gửi văn bản"
    if item.nfd_subject:
        subject = unicodedata.normalize("NFD", subject)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(
        dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=index)
    )
    msg["Message-ID"] = f"<corpus-{item.name}@vanphong.example.vn>"
    msg.set_content(item.mail_body)
    name = item.attachment_name or f"{item.name}.pdf"
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    _annex(msg, item)
    msg.set_boundary(f"==corpus-{item.name}==")
    return msg.as_bytes()


def labels(item: Item, filename: str) -> dict[str, Any]:
    spec = item.spec
    entry: dict[str, Any] = {
        "file": filename,
        "classification": item.classification,
        "outcome": item.outcome,
    }
    if item.note:
        entry["note"] = item.note
    if item.outcome == "clear":
        number = spec.number_symbol if re.match(r"^\d", spec.number_symbol) else None
        entry["metadata"] = {
            "number_symbol": number,
            "issue_date": spec.date.isoformat() if spec.date else None,
            "document_type": TYPES[spec.type_name],
            "urgency": item.expected_urgency or URGENCY[spec.urgency],
            "abstract": expected_abstract(spec),
            "signer_name": spec.signer,
        }
    return entry


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        if old.suffix in (".pdf", ".eml"):
            old.unlink()
    entries: dict[str, Any] = {}
    for index, item in enumerate(items()):
        pdf = (
            render_scanned_pdf(item.spec, dpi=150)
            if item.scanned
            else render_pdf(item.spec)
        )
        if (
            item.subject is not None
            or item.mail_body != Item.mail_body
            or item.attachment_name
            or item.annex
        ):
            filename = f"{item.name}.eml"
            (CORPUS / filename).write_bytes(_eml(item, pdf, index))
        else:
            filename = f"{item.name}.pdf"
            (CORPUS / filename).write_bytes(pdf)
        entries[item.name] = labels(item, filename)
    text = yaml.safe_dump(
        {"items": entries}, allow_unicode=True, sort_keys=False, width=100
    )
    header = "# Generated by tests/data/make_corpus.py: do not edit by hand.\n"
    (CORPUS / "labels.yaml").write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    main()
