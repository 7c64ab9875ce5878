"""The Markdown report of a run, one function per section.

``build_report`` writes it from what a run just measured; ``report_from`` from the raw results
a run saved (raw.py), measuring nothing (``python bench/run.py --report-from``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from figures import (
    Measured,
    b_label,
    div,
    fmt_cpu,
    fmt_ms,
    fmt_ratio,
    fmt_rps,
    median,
    memory_line,
)
from harness import ISSO_VERSION
from measure import Run
from raw import load_raw
from targets import TargetTable
from workloads import ISSO, ISSO_LABEL, NO_MATCH, OURS


def build_report(m: Measured) -> tuple[str, list[str]]:
    """The report's text, and the targets missed (or passed on one measure only)."""
    targets = TargetTable(m)
    lines = [
        *intro_section(m),
        *targets.lines(),
        *workload_sections(m),
        *references_section(m),
        *nothing_lost_section(m),
        *errors_section(m),
    ]
    return "\n".join(lines), targets.missed


# --- the sections -------------------------------------------------------------------------


def intro_section(m: Measured) -> list[str]:
    """Title, when and how the run was made, the machine, the data and the settings."""
    args, info = m.args, m.info
    command = "python bench/run.py" + (" " + " ".join(args.argv) if args.argv else "")
    lines = [
        "# commentsvc benchmark: latest results",
        "",
        f"Run {m.started:%Y-%m-%d %H:%M} UTC with `{command}` ({m.elapsed / 60:.1f} min), commit {info['commit']}.",
        "",
        f"Machine: {info['cpu']}, {info['memory']}, Linux {info['kernel']}; Python {info['python']}, "
        f"gunicorn {info['gunicorn']}, granian {info.get('granian', 'not recorded')}, "
        f"Flask {info['flask']}, PostgreSQL {info['postgresql']}, "
        f"SQLite {info['sqlite']}, {info['wrk']}.",
        "",
        f"{servers_line(args)}, on 127.0.0.1, all up at once. Load: wrk, "
        f"{args.threads} threads, {args.connections} connections (Isso's 1,000-comment fetch: 4), "
        f"{args.rounds} round(s) × {args.duration} s per workload, round-robin over all servers; the "
        f"table shows the median of the rounds (errors: the sum). Latency is under full load "
        f"(closed loop), so p50 ≈ connections ÷ throughput.",
        "",
        "Data (bench/seed_ours.py, bench/seed_isso.py): articles with 10, 1,000 and 100,000 "
        "approved comments, every third a reply to the thread's top comment, so page 1 holds 10 "
        "comments for the first and 50 threads = 75 comments for the others (`COMMENTS_PER_PAGE` "
        "50); Isso's thread fetch returns the whole thread (10 or 1,000 comments). Counts: 20 "
        "articles with comments and shares on 5 networks. Posts: one new comment per request, each "
        "with its own text, name and email. Shares: one hot article, each click from a distinct "
        "reader (a browser User-Agent with a unique suffix), networks in rotation.",
        "",
        settings_paragraph(args),
        "",
    ]
    load = load_paragraph(m)
    return lines + [load, ""] if load else lines


def settings_paragraph(args: argparse.Namespace) -> str:
    """The settings that differ from the defaults, and why."""
    redis = (
        f"; Redis for the PostgreSQL run: `{args.redis}`, so share clicks wait there and "
        "are flushed to the database about once a second"
        if args.redis
        else ""
    )
    sqlite = (
        "gets ANALYZE too (`--analyze-sqlite`)"
        if args.analyze_sqlite
        else "does not (the service never runs it)"
    )
    return (
        "Anti-spam relaxed for scripted load, on purpose: `COMMENTSVC_MIN_SUBMIT_SECONDS=0`, "
        "`COMMENTSVC_FLOOD_SECONDS=0`, `COMMENTSVC_RATE_LIMIT_COMMENTS` and `…_SHARES` = "
        "`1000000 per minute`, `COMMENTSVC_MODERATION=none` (so posts publish and count). "
        f"Everything else is the default (no Redis{redis}). The PostgreSQL database gets "
        "VACUUM ANALYZE and a CHECKPOINT after seeding (its autovacuum would within minutes; "
        "the checkpoint writes the seed out before the measurements); the SQLite file "
        f"{sqlite}. Isso 0.14.0: `[guard] enabled = false`, `[moderation] enabled = false`, "
        "otherwise its defaults."
    )


def load_paragraph(m: Measured) -> str:
    """How busy the rest of the machine was during the wrk runs ("" when nothing ran)."""
    loads = [r.background for runs in m.results.values() for r in runs]
    if not loads:
        return ""
    disturbed = sum(1 for x in loads if x > 0.10)
    text = (
        f"Other processes on the machine used a median {median(loads):.0%} (at most "
        f'{max(loads):.0%}) of its CPU during the wrk runs (column "other CPU", median per '
        "workload). "
    )
    if median(loads) > 0.10:
        text += "**The machine was not quiet**, so requests/s are lower than on an idle machine. "
    elif disturbed:
        text += (
            f"{disturbed} of {len(loads)} runs saw more than 10%; with "
            f"{m.args.rounds} rounds the median keeps a disturbed round out of the table. "
        )
    else:
        text += "The machine was otherwise idle. "
    return text + (
        '"Server CPU/req" (CPU time of the server\'s workers, plus for PostgreSQL its '
        "processes, per request answered) depends far less on other load; each target also "
        "shows its ratio by that measure."
    )


def workload_sections(m: Measured) -> list[str]:
    """One table per database: every commentsvc workload, against Isso and bare Flask."""
    hello, isso = m.hello, m.isso
    lines: list[str] = []
    for b in m.backends:
        lines += [
            f"## commentsvc on {b_label(b)}",
            "",
            "| Workload | req/s | p50 | p99 | errors | server CPU/req | × Isso (matching "
            "workload) | × bare Flask | other CPU |",
            "|---|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for w in OURS:
            s = m.ours(b, w.key)
            if not s.rounds:
                continue
            if w.match and isso.get(w.match) and isso[w.match].rounds:
                vs_isso = f"{fmt_ratio(div(s.rps, isso[w.match].rps))} ({ISSO_LABEL[w.match]})"
            elif w.match:
                vs_isso = f"– ({ISSO_LABEL[w.match]} not run)"
            else:
                vs_isso = "– (" + NO_MATCH.get(w.key, "no matching workload") + ")"
            lines.append(
                f"| {w.label} | {fmt_rps(s.rps)} | {fmt_ms(s.p50_ms)} | {fmt_ms(s.p99_ms)} | "
                f"{s.errors:,} | {fmt_cpu(s.cpu_ms)} | {vs_isso} | "
                f"{fmt_ratio(div(s.rps, hello.rps))} | {s.background:.0%} |"
            )
        lines += ["", memory_line(m.servers[f"ours-{b}"]), ""]
    return lines


def references_section(m: Measured) -> list[str]:
    """Isso and bare Flask, measured in the same run."""
    lines = [
        "## References, same run",
        "",
        "| Server | Workload | req/s | p50 | p99 | errors | server CPU/req | other CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    isso = m.isso
    references = [(f"Isso {ISSO_VERSION}", w.label, isso[w.key]) for w in ISSO]
    references.append((f"Flask {m.info['flask']}", 'Bare "hello"', m.hello))
    for server_label, label, s in references:
        if s.rounds:
            lines.append(
                f"| {server_label} | {label} | {fmt_rps(s.rps)} | {fmt_ms(s.p50_ms)} | "
                f"{fmt_ms(s.p99_ms)} | {s.errors:,} | {fmt_cpu(s.cpu_ms)} | {s.background:.0%} |"
            )
    lines.append("")
    for name in ("isso", "hello"):
        if name in m.servers:
            lines += [memory_line(m.servers[name]), ""]
    lines += [
        "Isso has no 100,000-comment thread here: it returns a whole thread per request "
        "(issue #6 measured 14 s for 10,000 comments), so such a fetch would not finish inside a "
        "benchmark window. Isso has no share counter.",
        "",
    ]
    return lines


def nothing_lost_section(m: Measured) -> list[str]:
    """Every click and comment the service accepted, found again in its counts."""
    lines = ["## Nothing lost", ""]
    for b in m.backends:
        c = m.checks.get(b, {})
        lines.append(
            f"- {b_label(b)}: share clicks: wrk saw {c.get('share_client_2xx', 0):,} answered 2xx; "
            f"the service answered {c.get('share_answered', 0):,} with 202 (its request log; the "
            f"difference is requests still in flight when wrk stopped); {c.get('share_stored', 0):,} "
            f"counted in `GET /api/v1/counts`: {c.get('share_lost', 0)} lost. Comments: "
            f"{c.get('post_answered', 0):,} answered 201, {c.get('post_stored', 0):,} counted."
        )
    lines.append("")
    return lines


def errors_section(m: Measured) -> list[str]:
    """Errors wrk saw, error statuses and other lines in the servers' logs, replaced workers."""
    error_lines = []
    for (server_name, key), runs in sorted(m.results.items()):
        error_lines += run_errors(server_name, key, runs)
    for name, server in m.servers.items():
        restarted = len(server.workers_seen) - 2
        if restarted > 0:
            error_lines.append(
                f"- {name}: {restarted} worker(s) replaced during the run (crash or timeout)"
            )
    return [
        "## Errors and server log",
        "",
        *(
            error_lines
            or ["None: every request was answered 2xx, and no server logged a warning or error."]
        ),
        "",
    ]


def run_errors(server_name: str, key: str, runs: list[Run]) -> list[str]:
    """One workload's errors over its rounds, and the first log lines of each round."""
    lines = []
    statuses: Counter = Counter()
    for r in runs:
        statuses.update(r.statuses)
    errors = sum(r.errors for r in runs)
    bad = {s: n for s, n in statuses.items() if not s.startswith(("2", "3"))}
    if errors or bad:
        lines.append(
            f"- {server_name} {key}: {errors:,} errors in wrk "
            f"(socket {sum(r.socket_errors for r in runs):,}, status {sum(r.status_errors for r in runs):,})"
            + (
                f"; statuses in the request log: {dict(sorted(statuses.items()))}"
                if statuses
                else ""
            )
        )
    for r in runs:
        for problem in r.problems[:5]:
            lines.append(f"  - log: `{problem[:300]}`")
    return lines


def report_from(path: Path) -> tuple[str, list[str]]:
    """The report of a saved run, and its missed targets, measuring nothing."""
    return build_report(load_raw(path))


def servers_line(args: argparse.Namespace) -> str:
    """What served each side of the run (older raw results predate ``--server``)."""
    if getattr(args, "server", "gunicorn") == "granian":
        return (
            "commentsvc and the bare Flask reference: `granian --interface wsgi --workers 2 "
            "--blocking-threads 1`; Isso: `gunicorn --workers 2` (sync workers), as its "
            "documentation deploys it"
        )
    return "Every server: `gunicorn --workers 2` (sync workers)"
