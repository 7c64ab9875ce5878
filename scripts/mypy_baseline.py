"""Run mypy on the package and fail only on errors that are not in the checked-in baseline.

mypy came to this project when the code already had type errors. They are listed in
scripts/mypy-baseline.txt as ``path: [code] message``, without line numbers, so that an edit
above an old error does not make it new. An error not in the list fails the check; listed
errors that no longer occur are reported, and ``--update`` rewrites the list to shrink it.

    python scripts/mypy_baseline.py            # what `make lint` runs
    python scripts/mypy_baseline.py --update   # after fixing listed errors
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scripts" / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?:\d+:)? error: (?P<message>.*)$")
# Some messages name other lines ("defined on line 12"); those move with every edit too.
LINE_NUMBER = re.compile(r"\bline \d+\b")


def run_mypy() -> list[str]:
    """mypy's error lines for the packages pyproject.toml names; exits on a crash or bad config."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):  # 1: errors found; anything else: mypy itself failed
        sys.exit(f"mypy failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return [line for line in result.stdout.splitlines() if ERROR.match(line)]


def key(error_line: str) -> str:
    """An error as the baseline lists it: where and what, but not on which line."""
    match = ERROR.match(error_line)
    assert match, error_line
    message = LINE_NUMBER.sub("line N", match["message"])
    code = re.search(r"\s+\[(?P<code>[a-z0-9-]+)\]$", message)
    if code:
        message = message[: code.start()]
        return f"{match['path']}: [{code['code']}] {message}"
    return f"{match['path']}: {message}"


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    lines = BASELINE.read_text().splitlines()
    return Counter(line for line in lines if line and not line.startswith("#"))


def write_baseline(errors: list[str]) -> None:
    header = (
        "# mypy errors the code had when mypy came in; `make lint` fails only on others.\n"
        "# Fix one, then shrink this list: python scripts/mypy_baseline.py --update\n"
    )
    BASELINE.write_text(header + "".join(f"{k}\n" for k in sorted(map(key, errors))))


def main(argv: list[str]) -> int:
    errors = run_mypy()
    if "--update" in argv:
        write_baseline(errors)
        print(f"{BASELINE.relative_to(ROOT)}: {len(errors)} errors listed")
        return 0
    allowed = read_baseline()
    new = []
    for line in errors:
        if allowed[key(line)] > 0:
            allowed[key(line)] -= 1
        else:
            new.append(line)
    gone = sum(allowed.values())
    if gone:
        print(
            f"mypy: {gone} listed error(s) no longer occur; "
            "shrink the list with: python scripts/mypy_baseline.py --update"
        )
    if new:
        print("\n".join(new))
        print(f"mypy: {len(new)} new error(s) (not in {BASELINE.relative_to(ROOT)})")
        return 1
    print(f"mypy: no new errors ({len(errors)} listed in {BASELINE.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
