"""The README's first command, as a publisher trying it meets it: port 5000 may be taken."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_says_how_to_serve_on_another_port_and_make_does_so() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") : readme.index("## Embedding")]
    named = re.search(r"`make run PORT=(\d+)`", quickstart)
    assert named, "the Quickstart does not say how to serve on another port"
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "run", f"PORT={named.group(1)}", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"commentsvc run --host 0.0.0.0 --port {named.group(1)}" in dry
