"""Bulk enrollment of student photos: ``python enroll_faces.py DIR --db sqlite:///school.db``.

DIR is laid out CLASS/STUDENT_CODE Full Name/photo.jpg (several photos per student), or give a CSV
roster (student_code, full_name, class, photo) with ``--photos DIR``. Same as ``attendance enroll``.
"""

import sys

from attendance.cli.enroll_cmd import main

if __name__ == "__main__":
    sys.exit(main())
