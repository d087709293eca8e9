"""Workers that start together all apply the schema without tripping on each other."""

import subprocess
import sys

from server import ROOT

APPLY_SCHEMA_REPEATEDLY = """
import sys
from pathlib import Path
import archive
for _ in range(30):
    archive.connect(Path(sys.argv[1])).close()
"""


def test_concurrent_starts_all_apply_the_schema(tmp_path):
    database = tmp_path / "archive.db"
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", APPLY_SCHEMA_REPEATEDLY, str(database)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    failures = [start.communicate(timeout=120)[1] for start in starts]

    assert [start.returncode for start in starts] == [0, 0, 0], failures
