"""What encryption at rest costs the gallery: the server's export (templates opened) and the agent's sealed copy.

    python -m bench.bench_gallery_crypto                  # 3,000 students x 3 templates, 128-D
    python -m bench.bench_gallery_crypto --students 3000 --dim 512

Server: reading the templates of one school from SQLite through the sealed column vs the same rows' raw
bytes (the difference is the AES-GCM opening), and ``export_gallery`` end to end. Agent: writing the
gallery copy (JSON, sealed, fsync) and loading it (read, open, parse) against the same in clear. Median of
``--repeat`` runs, wall time; prints a markdown table. Synthetic vectors; no face data needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import LargeBinary, select, type_coerce

from attendance.crypto import Keyring, install_keyring, new_key
from attendance.db import Database
from attendance.db.models import FaceTemplate, School, SchoolClass, Student
from attendance.gallery_export import export_gallery
from camera_agent.client import GalleryResponse
from camera_agent.gallery_sync import GallerySync, parse_gallery

MODEL_ID = "dlib_resnet_v1"


def fill_school(database: Database, students: int, templates: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    with database.session() as session:
        school = School(code="B1", name="Bench")
        session.add(school)
        session.flush()
        klass = SchoolClass(school_id=school.id, code="6A1")
        session.add(klass)
        session.flush()
        people = [Student(school_id=school.id, class_id=klass.id, student_code=f"HS{i:05d}",
                          full_name=f"Nguyễn Văn {i}", consent_given=True) for i in range(students)]
        session.add_all(people)
        session.flush()
        session.add_all(FaceTemplate(student_id=p.id, model_id=MODEL_ID,
                                     vector=(rng.standard_normal(dim) * 0.1).astype("<f4").tobytes())
                        for p in people for _ in range(templates))


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


class OneShotClient:
    def __init__(self, document: dict, key: bytes) -> None:
        self.document, self.key = document, key

    def get_gallery(self, model_id, etag=None):
        return GalleryResponse(self.document, '"bench"')

    def get_gallery_key(self) -> bytes:
        return self.key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--templates", type=int, default=3)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    install_keyring(Keyring([new_key()]))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        database = Database.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        fill_school(database, args.students, args.templates, args.dim)
        with database.session() as session:
            school = session.scalar(select(School))
            sealed = lambda: session.execute(select(FaceTemplate.vector)).all()  # noqa: E731
            raw = lambda: session.execute(select(type_coerce(FaceTemplate.vector, LargeBinary))).all()  # noqa: E731
            rows.append(("server: read the templates, in clear (raw bytes)", median_ms(raw, args.repeat)))
            rows.append(("server: read the templates, sealed (opened)", median_ms(sealed, args.repeat)))
            rows.append(("server: export_gallery (sealed)", median_ms(lambda: export_gallery(session, school, MODEL_ID),
                                                                     args.repeat)))
            document = export_gallery(session, school, MODEL_ID)
        database.close()
        copy = Path(tmp) / "gallery.json"
        sync = GallerySync(OneShotClient(document, new_key()), MODEL_ID, args.dim, copy)
        plain = Path(tmp) / "plain.json"

        def save_plain():
            plain.write_text(json.dumps({"etag": None, "document": document}))

        def load_plain():
            saved = json.loads(plain.read_text())
            parse_gallery(saved["document"], MODEL_ID, args.dim)

        rows.append(("agent: write the copy in clear", median_ms(save_plain, args.repeat)))
        rows.append(("agent: write the copy sealed (fsync)", median_ms(lambda: sync._save(document, '"b"'), args.repeat)))
        rows.append(("agent: load the copy in clear", median_ms(load_plain, args.repeat)))
        rows.append(("agent: load the copy sealed", median_ms(sync.load_cached, args.repeat)))
        size = copy.stat().st_size
    templates = args.students * args.templates
    print(f"{args.students} students x {args.templates} templates ({templates}), {args.dim}-D; copy {size / 1e6:.1f} MB\n")
    print("| step | median ms |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
