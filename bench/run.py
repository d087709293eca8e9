"""The benchmark suite: `make bench` (or `--quick` for a smoke run) prints the table.

Everything runs on this machine against servers started here on 127.0.0.1,
all with the repository's gunicorn.conf.py. Side-by-side pairs (bare Flask
and the webhook; idle ingest and ingest beside readers) are run interleaved,
several times, and medians are reported with the machine's load.
"""

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

from bench import big_archive, bodies, export, queries, report
from bench.load import Readers, post_webhook
from bench.servers import BARE_APP, ROOT, SERVICE_APP, Gunicorn, random_credentials

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"
SLOW_SQL = (
    "select device_id, key, count(*), avg(number) from status_changes "
    "group by device_id, key"
)
FULL = {"runs": 5, "seconds": 10, "status_changes": 10_000_000, "pool": 300_000,
        "export_s": 60, "loads": 5}  # fmt: skip
QUICK = {"runs": 2, "seconds": 3, "status_changes": 200_000, "pool": 40_000,
         "export_s": 10, "loads": 1}  # fmt: skip


class Suite:
    """One benchmark run's configuration, credentials and collected results."""

    def __init__(self, plan: dict):
        self.plan = plan
        self.credentials = random_credentials()
        self.viewer = (self.credentials["VIEWER_USERNAME"],
                       self.credentials["VIEWER_PASSWORD"])  # fmt: skip
        self.pool = DATA / "bodies.jsonl"
        self.log = DATA / "servers.log"
        self.results = {"machine": machine(), "load_before": uptime()}
        self.next_body = 0  # the large archive has stored the pool up to here

    def serve(self, app: str, database: Path) -> Gunicorn:
        environment = {**self.credentials, "DATABASE_PATH": str(database)}
        environment.update(_passed_through())
        return Gunicorn(app, environment, self.log)

    def fresh_database(self) -> Path:
        database = DATA / "ingest" / "archive.db"
        database.parent.mkdir(exist_ok=True)
        for path in (database, *big_archive.companions(database)):
            path.unlink(missing_ok=True)
        return database

    def wrk(self, server: Gunicorn, **options) -> dict:
        """One wrk run, with the workers' CPU time per request beside wrk's figures.

        CPU per request hardly depends on what else the machine runs, so it
        compares two servers even when their throughput is noisy.
        """
        token = self.credentials["WEBHOOK_TOKEN"]
        cpu = server.cpu_seconds()
        run = post_webhook(
            server.url, self.pool, token, self.plan["seconds"], **options
        )
        cpu = server.cpu_seconds() - cpu
        return run | {"cpu_ms": cpu * 1000 / max(1, run["requests"])}

    def unstored_wrk(self, server: Gunicorn) -> dict:
        """A wrk run on the large archive with bodies that no earlier run posted.

        A body posted again is a duplicate, answered without a write, so each
        run starts where the one before stopped in the pool.
        """
        run = self.wrk(server, offset=self.next_body)
        self.next_body += run["requests"]
        if self.next_body > self.plan["pool"]:
            raise RuntimeError("the body pool is too small for the runs on one archive")
        return run

    def ingest_against_bare(self) -> None:
        """Interleaved runs of the bare app and the webhook, fresh archive each."""
        bare, webhook, cold, workers = [], [], [], []
        for _ in range(self.plan["runs"]):
            with self.serve(BARE_APP, self.fresh_database()) as server:
                bare.append(self.wrk(server))
            database = self.fresh_database()
            with self.serve(SERVICE_APP, database) as server:
                cold.append(server.cold_start_seconds)
                workers += server.worker_rss_mb()
                burst = self.wrk(server)
                # Derived after the burst; the full cost of a message is both.
                drained = server.derivation_drained()
                seconds = self.plan["seconds"] + drained["drain_s"]
                webhook.append(
                    burst | drained | {"sustained_rps": burst["requests"] / seconds}
                )
            webhook[-1]["stored_messages"] = stored_messages(database)
        self.results["bare"] = median_of(bare)
        self.results["ingest"] = median_of(webhook)
        self.results["cold_start_s"] = statistics.median(cold)
        self.results["worker_mb"] = statistics.median(workers)

    def latency_at_half_load(self) -> None:
        """The webhook's latency when offered half of the bare app's throughput."""
        connections = 16
        rate = self.results["bare"]["rps"] / 2
        runs = []
        for _ in range(self.plan["runs"]):
            with self.serve(SERVICE_APP, self.fresh_database()) as server:
                runs.append(
                    self.wrk(
                        server,
                        connections=connections,
                        delay_ms=connections * 1000 / rate,
                    )
                )
        self.results["half_load"] = median_of(runs) | {"offered_rps": rate}

    def big_archive(self) -> Path:
        """The large archive, built once and reused while its size matches."""
        # Named archive.db, so Datasette serves it at /archive like the service.
        database = DATA / f"{self.plan['status_changes']}-changes" / "archive.db"
        facts_path = database.with_suffix(".json")
        # Its size is taken when built: later benchmarks post into it.
        if not (database.exists() and facts_path.exists()):
            facts = big_archive.build(database, self.plan["status_changes"])
            facts_path.write_text(json.dumps(facts))
        facts = json.loads(facts_path.read_text())
        facts["disk_per_raw"] = facts["bytes_on_disk"] / facts["raw_json_bytes"]
        self.results["archive"] = facts
        return database

    def on_big_archive(self, database: Path) -> None:
        """Pages, exports and ingest beside readers, all on the large archive."""
        starts = []
        for _ in range(self.plan["runs"]):
            with self.serve(SERVICE_APP, database) as server:
                starts.append(server.cold_start_seconds)
        self.results["big_cold_start_s"] = statistics.median(starts)
        with self.serve(SERVICE_APP, database) as server:
            self.results["pages"] = [
                {"what": what, "target_ms": target}
                | queries.time_page(server.url, path, self.viewer, self.plan["loads"])
                for what, path, target in queries.pages(database)
            ]
            self.results["exports"] = [
                export.export_csv(
                    server.url, path, self.viewer, server, self.plan["export_s"]
                )
                for path in self.export_paths()
            ]
            idle, busy = [], []
            for _ in range(self.plan["runs"]):
                # Each run starts with nothing left to derive from the one before.
                idle.append(self.unstored_wrk(server) | server.derivation_drained())
                csv_path = "/archive/status_changes.csv?_stream=on"
                with Readers(server.url, self.viewer, csv_path, SLOW_SQL):
                    busy.append(self.unstored_wrk(server))
                busy[-1] |= server.derivation_drained()
        self.results["ingest_big_idle"] = median_of(idle)
        self.results["ingest_with_readers"] = median_of(busy)

    def export_paths(self) -> list[str]:
        # Both exports span many pages, so page size cannot pass for growth;
        # fast_csv.py serves both (id__lte is one of the filters it copies).
        slice_rows = self.plan["status_changes"] // 10
        base = "/archive/status_changes.csv?_stream=on&_size=max"
        return [f"{base}&id__lte={slice_rows}", base]


def median_of(runs: list[dict]) -> dict:
    """Each numeric field's median across runs, plus the runs themselves."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    medians = {k: statistics.median(run[k] for run in runs) for k in keys}
    return medians | {"runs": runs}


def stored_messages(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM messages").fetchone()[0]


def _passed_through() -> dict:
    """Gunicorn and SQLite settings a benchmark run may vary from outside."""
    names = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "SQLITE_SYNCHRONOUS")
    return {name: os.environ[name] for name in names if name in os.environ}


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip()
         for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}  # fmt: skip


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmark suite.")
    parser.add_argument("--quick", action="store_true", help="a smoke run, ~1 minute")
    parser.add_argument(
        "--only",
        choices=("ingest", "archive"),
        help="just the webhook against bare Flask, or just the large archive",
    )
    arguments = parser.parse_args()
    plan = QUICK if arguments.quick else FULL
    DATA.mkdir(parents=True, exist_ok=True)
    suite = Suite(plan)
    # A new seed each time: a large archive kept from an earlier run has
    # stored that run's bodies, and would take them again as duplicates.
    seed = int(time.time())
    suite.results["pool"] = bodies.write_pool(suite.pool, plan["pool"], seed=seed)
    if arguments.only != "archive":
        suite.ingest_against_bare()
        suite.latency_at_half_load()
    if arguments.only != "ingest":
        suite.on_big_archive(suite.big_archive())
    suite.results["load_after"] = uptime()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(suite.results, indent=2))
    print(report.table(suite.results, plan))


if __name__ == "__main__":
    main()
