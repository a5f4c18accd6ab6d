"""The privacy notice a school shows guardians when asking consent: versioned texts, Vietnamese and English.

A school's first version is the product's template (below) with the school's name filled in; an admin
edits it and publishes a new version, never changing an old one, so every consent record names the exact
text the guardian read. The template is engineering, not legal advice: a school adapts it.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import ConsentNotice, School, utcnow
from attendance.errors import InvalidInput, NotFound
from attendance.users import record_audit

MAX_NOTICE_CHARS = 20_000

DEFAULT_NOTICE_VI = """\
THÔNG BÁO VỀ XỬ LÝ DỮ LIỆU KHUÔN MẶT CỦA HỌC SINH — {school}

1. Mục đích: điểm danh buổi sáng tự động bằng camera ở cổng trường.
2. Dữ liệu: họ tên, mã học sinh, lớp, ngày sinh; mẫu khuôn mặt (một dãy số, không phải ảnh) tạo từ ảnh đăng ký;
   giờ đến trường; nếu phụ huynh đồng ý: ảnh đăng ký và ảnh chụp lúc điểm danh.
3. Phạm vi đồng ý (mỗi mục chọn riêng, không mục nào được đánh dấu sẵn):
   (a) nhận diện khuôn mặt ở cổng; (b) lưu ảnh chụp lúc điểm danh (tối đa {snapshot_days} ngày);
   (c) lưu ảnh đăng ký.
4. Thời gian lưu: mẫu khuôn mặt đến khi học sinh rời trường hoặc rút lại đồng ý; lịch sử điểm danh theo quy định
   lưu trữ hồ sơ của nhà trường.
5. Người được xem: giáo viên chủ nhiệm (lớp mình), quản trị viên của trường. Dữ liệu ở máy chủ của trường, không
   chuyển cho bên thứ ba.
6. Quyền của phụ huynh và học sinh: xem, nhận bản sao, sửa, xóa dữ liệu; rút lại đồng ý bất cứ lúc nào (nhận
   diện dừng ở lần đồng bộ kế tiếp, mẫu và ảnh bị xóa). Yêu cầu được trả lời trong 2 ngày làm việc.
7. Không đồng ý vẫn được điểm danh bằng cách khác (giáo viên hoặc thẻ), không bị thiệt thòi gì.
8. Học sinh từ đủ 7 tuổi trở lên cũng được hỏi ý kiến và đồng ý.
Liên hệ: {school}.
"""

DEFAULT_NOTICE_EN = """\
NOTICE ABOUT THE PROCESSING OF STUDENTS' FACE DATA — {school}

1. Purpose: automatic morning attendance by the camera at the school gate.
2. Data: full name, student code, class, date of birth; a face template (a list of numbers, not a picture)
   made from enrollment photos; arrival times; if the guardian agrees: enrollment photos and check-in snapshots.
3. What you agree to (each item chosen separately, none ticked in advance):
   (a) face recognition at the gate; (b) keeping check-in snapshots (at most {snapshot_days} days);
   (c) keeping enrollment photos.
4. How long: face templates until the student leaves or consent is withdrawn; attendance history as the
   school's record-keeping rules require.
5. Who sees it: the homeroom teacher (their class), the school's administrators. The data stays on the
   school's server and is not passed to third parties.
6. Rights of guardians and students: see, get a copy, correct, delete the data; withdraw consent at any time
   (recognition stops at the next sync, templates and photos are deleted). Requests are answered within 2
   working days.
7. Not consenting still allows check-in another way (teacher or card), with no disadvantage.
8. Students aged 7 or older are asked too and give their own agreement.
Contact: {school}.
"""


def current_notice(session: Session, school_id: int, snapshot_days: int = 30) -> ConsentNotice:
    """The school's latest notice version; version 1 is created from the product's template if none yet."""
    notice = session.scalar(select(ConsentNotice).where(ConsentNotice.school_id == school_id)
                            .order_by(ConsentNotice.version.desc()).limit(1))
    if notice is not None:
        return notice
    school = session.get(School, school_id)
    if school is None:
        raise NotFound("no such school")
    values = {"school": school.name, "snapshot_days": snapshot_days}
    notice = ConsentNotice(school_id=school_id, version=1, text_vi=DEFAULT_NOTICE_VI.format(**values),
                           text_en=DEFAULT_NOTICE_EN.format(**values), published_by="system", published_at=utcnow())
    session.add(notice)
    session.flush()
    return notice


def list_notices(session: Session, school_id: int) -> list[ConsentNotice]:
    """Every notice version of the school, newest first."""
    return list(session.scalars(select(ConsentNotice).where(ConsentNotice.school_id == school_id)
                                .order_by(ConsentNotice.version.desc())))


def publish_notice(session: Session, school_id: int, text_vi: str, text_en: str, *, actor: str,
                   user_id: int | None = None) -> ConsentNotice:
    """Publish a new version of the school's notice (both languages needed); audited. InvalidInput for an
    empty or oversized text, or one identical to the current version. The caller commits."""
    texts = [unicodedata.normalize("NFC", t).replace("\r\n", "\n").strip() for t in (text_vi, text_en)]
    if not all(texts):
        raise InvalidInput("the notice needs both a Vietnamese and an English text")
    if any(len(t) > MAX_NOTICE_CHARS for t in texts):
        raise InvalidInput(f"a notice has at most {MAX_NOTICE_CHARS} characters")
    current = current_notice(session, school_id)
    if [current.text_vi.strip(), current.text_en.strip()] == texts:
        raise InvalidInput("the text is the same as the current version")
    notice = ConsentNotice(school_id=school_id, version=current.version + 1, text_vi=texts[0], text_en=texts[1],
                           published_by=actor[:120], published_at=utcnow())
    session.add(notice)
    session.flush()
    record_audit(session, actor, "consent.notice_publish", user_id=user_id, school_id=school_id,
                 target=f"notice:{notice.version}", detail={"version": notice.version})
    return notice
