"""Memory of `canon serve --workers N`: what each worker holds and what they share.

    python benchmarks/bench_workers.py [--suppliers 100000] [--workers 1,2] [--clients 4]
                                       [--seconds 20] [--root var/bench] [--record]

Uses (or makes, as `bench_resolve.py` does) the seeded sample and trained workdir under
`--root/s<suppliers>`. For each worker count it starts `canon serve --workers N`, resolves the
generator's query mix over HTTP from `--clients` clients for `--seconds` (which also touches the
index's pages), then reads every server process's `/proc/PID/smaps_rollup`: RSS (what `top`
shows, counting shared pages in full in every process), PSS (each shared page divided among the
processes mapping it, so PSS adds up to the real total) and its file-backed part (the
memory-mapped index, in the page cache once). With --record the table is appended to
benchmarks/RESULTS.md with the machine and its load average. Benchmarks measure; they assert
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_resolve import RESULTS, machine, run_phase, table  # noqa: E402
from phases import _free_port, load_queries, percentiles  # noqa: E402

CANON = str(Path(sys.executable).parent / "canon")


def smaps(pid: int) -> dict[str, float]:
    """A process's memory from /proc/PID/smaps_rollup, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines()[1:]:
        name, value, *_ = line.split()
        out[name.rstrip(":")] = int(value) / 1024
    return out


def children(pid: int) -> list[int]:
    """The processes whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def maps_index(pid: int) -> bool:
    try:
        return "/index_supplier/postings.rows.npy" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def measure(
    workdir: Path, queries: Path, workers: int, clients: int, seconds: float
) -> dict[str, Any]:
    env = {
        **os.environ,
        "CANON_WORKDIR": str(workdir),
        "CANON_RATE_LIMIT_ROLES": json.dumps(
            {r: {"per_second": 1e6, "burst": 10**6} for r in ("agent", "admin")}
        ),
        "CANON_LOG_LEVEL": "WARNING",
        "CANON_WORKFLOW_SWEEP_SECONDS": "0",
        "CANON_APPROVAL_SWEEP_SECONDS": "0",
    }
    key = subprocess.run(
        [CANON, "keys", "create", "--workdir", str(workdir), "--name", f"bench-{time.time_ns()}"]
        + ["--role", "agent", "--scopes", "resolve"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = _free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [CANON, "serve", "--workdir", str(workdir), "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError("canon serve exited before it was ready")
            serving = [server.pid] if workers == 1 else children(server.pid)
            try:
                up = httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                up = False
            if up and sum(map(maps_index, serving)) == workers:
                break
            time.sleep(0.2)
        ready = time.perf_counter() - started
        mix = load_queries(queries)
        headers = {"Authorization": f"Bearer {key}"}
        stop = time.monotonic() + seconds
        sinks: list[list[float]] = [[] for _ in range(clients)]

        def run(k: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                n = k
                while time.monotonic() < stop:
                    t0 = time.perf_counter_ns()
                    answer = client.post("/v1/resolve", json=mix[n % len(mix)])
                    sinks[k].append((time.perf_counter_ns() - t0) / 1e6)
                    if answer.status_code != 200:
                        raise RuntimeError(f"HTTP {answer.status_code}: {answer.text[:200]}")
                    n += clients

        threads = [threading.Thread(target=run, args=(k,)) for k in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        flat = [x for s in sinks for x in s]
        processes = {"supervisor": server.pid} if workers > 1 else {}
        serving = (
            [server.pid] if workers == 1 else [p for p in children(server.pid) if maps_index(p)]
        )
        processes |= {f"worker {k + 1}": pid for k, pid in enumerate(serving)}
        memory = {name: smaps(pid) for name, pid in processes.items()}
        return {
            "workers": workers,
            "clients": clients,
            "ready_seconds": ready,
            "qps": len(flat) / wall,
            "latency_ms": percentiles(flat),
            "memory_mb": memory,
            "load": os.getloadavg(),
        }
    finally:
        server.terminate()
        server.wait(timeout=60)


def report(size: int, runs: list[dict[str, Any]]) -> str:
    rows = []
    for run in runs:
        memory = run["memory_mb"]
        for name, m in memory.items():
            rows.append([str(run["workers"]), name, f"{m['Rss']:,.0f}", f"{m['Pss']:,.0f}",
                         f"{m.get('Pss_File', 0):,.0f}", f"{m['Shared_Clean']:,.0f}",
                         f"{m['Private_Clean'] + m['Private_Dirty']:,.0f}", "", ""])  # fmt: skip
        total_rss = sum(m["Rss"] for m in memory.values())
        total_pss = sum(m["Pss"] for m in memory.values())
        lat = run["latency_ms"]
        rows.append([str(run["workers"]), "**all**", f"{total_rss:,.0f}", f"**{total_pss:,.0f}**",
                     f"{sum(m.get('Pss_File', 0) for m in memory.values()):,.0f}", "", "",
                     f"{run['qps']:,.0f}", f"{lat['p50']:.1f} / {lat['p99']:.1f}"])  # fmt: skip
    loads = "; ".join(
        f"{r['workers']} worker(s): {', '.join(f'{x:.1f}' for x in r['load'])}" for r in runs
    )
    header = ["workers", "process", "RSS MB", "PSS MB", "of it file MB", "shared MB",
              "private MB", "resolves/s", "p50 / p99 ms"]  # fmt: skip
    clients = runs[0]["clients"] if runs else 0
    return (
        table(f"canon serve --workers N, {size:,} suppliers, {clients} HTTP clients", header, rows)
        + f"\nLoad average after each run: {loads}.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suppliers", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--root", default="var/bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    context = machine()
    print(context, flush=True)
    base = Path(args.root).resolve() / f"s{args.suppliers}"
    sample, workdir, out = base / "sample", base / "workdir", base / "results"
    out.mkdir(parents=True, exist_ok=True)
    if not (sample / "queries.jsonl").exists():
        run_phase("generate", out, sample=sample, suppliers=args.suppliers, seed=args.seed)
    if not (workdir / "CURRENT").exists():
        run_phase("train", out, sample=sample, workdir=workdir)
    runs = []
    for workers in (int(w) for w in args.workers.split(",")):
        print(f"  {workers} worker(s) …", flush=True)
        runs.append(measure(workdir, sample / "queries.jsonl", workers, args.clients, args.seconds))
    text = report(args.suppliers, runs)
    print(text)
    if args.record:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        with RESULTS.open("a", encoding="utf-8") as fh:
            fh.write(f"\n## Workers sharing one index ({stamp})\n\n{context}.\n\n{text}")


if __name__ == "__main__":
    main()
