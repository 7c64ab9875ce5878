"""The layout the design card fixes: a wheel that ships templates, a compose file that fits."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_templates_static_files_and_migrations(tmp_path) -> None:
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("commentsvc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").glob("*.html"):
        assert f"commentsvc/templates/{template.name}" in names
    assert "commentsvc/static/embed.js" in names
    # The widget's translations, read from the .po files at run time (commentsvc/comments/i18n.py).
    for language in ("de", "fr", "es", "pt_BR", "ar"):
        assert f"commentsvc/translations/{language}/LC_MESSAGES/messages.po" in names
    assert "commentsvc/db/migrations/env.py" in names
    assert any(n.startswith("commentsvc/db/migrations/versions/0001_") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "commentsvc = commentsvc.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
