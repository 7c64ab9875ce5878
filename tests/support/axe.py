"""axe-core in the browser tests: the copy shipped by the axe-playwright-python package, read
from disk and evaluated in the page or frame (never fetched from a CDN)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import axe_playwright_python

# WCAG 2.1 A and AA: the suite fails on any violation of these; and label-content-name-mismatch
# (WCAG 2.5.3), which axe files as experimental and so runs only when asked.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def axe_source() -> str:
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def axe_violations(target: Any) -> list[str]:
    """WCAG 2.1 A/AA violations in a Playwright Page or Frame, one readable line each."""
    if not target.evaluate("() => typeof window.axe !== 'undefined'"):
        target.evaluate(axe_source())
    results = target.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " rules: {'label-content-name-mismatch': {enabled: true}},"
        " resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        f"{v['id']}: {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in results["violations"]
    ]
