"""Import benchmark: a generated 100,000-comment WXR and Disqus file into SQLite and PostgreSQL.

    python bench/import_bench.py                      # 100,000 comments, both files, both databases
    python bench/import_bench.py --count 20000 --db sqlite

It times ``import_file`` (what `commentsvc import` runs) on a fresh database for each file and
database, and reports comments per second and the peak memory of the process. PostgreSQL: a
database ``commentsvc_import_bench`` is created and dropped on the server of ``--pg-admin-url``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from import_files import write_disqus, write_wxr  # noqa: E402

from commentsvc import create_app  # noqa: E402
from commentsvc.core.extensions import db  # noqa: E402
from commentsvc.transfer import models  # noqa: E402, F401
from commentsvc.transfer.run import import_file  # noqa: E402

PG_DATABASE = "commentsvc_import_bench"


def _pg_url(admin_url: str, create: bool) -> str:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if create:
            connection.execute(f"CREATE DATABASE {PG_DATABASE}")
    return admin_url.rsplit("/", 1)[0] + "/" + PG_DATABASE


def measure(path: Path, database_url: str, batch_size: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (of this process) to import ``path`` into a fresh database at
    ``database_url``, and the comments stored."""
    app = create_app({"SECRET_KEY": "b" * 40, "DATABASE_URL": database_url})
    with app.app_context():
        db.create_all()
        started, cpu = time.perf_counter(), time.process_time()
        report = import_file(path, batch_size=batch_size)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        db.engine.dispose()
    return elapsed, cpu, report.imported_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--format", choices=["wxr", "disqus", "both"], default="both")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--pg-admin-url", default="postgresql://root@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    formats = ["wxr", "disqus"] if options.format == "both" else [options.format]
    databases = ["sqlite", "postgresql"] if options.db == "both" else [options.db]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        files = {}
        for fmt in formats:
            writer = write_wxr if fmt == "wxr" else write_disqus
            files[fmt] = writer(work / f"generated.{fmt}.xml", options.count)
            size = files[fmt].stat().st_size / 1e6
            print(f"generated {fmt}: {options.count:,} comments, {size:.1f} MB", flush=True)
        print("| file | database | comments stored | seconds | comments/s | CPU s (importer) |")
        print("|---|---|---:|---:|---:|---:|")
        for fmt, path in files.items():
            for name in databases:
                if name == "sqlite":
                    url = f"sqlite:///{work}/bench-{fmt}.sqlite3"
                else:
                    url = _pg_url(options.pg_admin_url, create=True)
                try:
                    seconds, cpu, stored = measure(path, url, options.batch_size)
                finally:
                    if name == "postgresql":
                        _pg_url(options.pg_admin_url, create=False)
                print(
                    f"| {fmt} | {name} | {stored:,} | {seconds:.1f} | {stored / seconds:,.0f} "
                    f"| {cpu:.1f} |",
                    flush=True,
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\npeak memory of the process (all runs): {peak:.0f} MB; load average now: {load}")


if __name__ == "__main__":
    main()
