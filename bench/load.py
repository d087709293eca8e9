"""Load generators outside the Python process: wrk for the webhook, curl for readers.

`post_webhook` runs wrk with bench/webhook.lua and returns its summary;
`Readers` keeps full CSV downloads and a slow SQL query running through
Datasette while a wrk run measures the webhook beside them.
"""

import json
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path

LUA = Path(__file__).with_name("webhook.lua")


def post_webhook(
    url: str,
    bodies: Path,
    authorization: str,
    seconds: float,
    connections: int = 16,
    delay_ms: float = 0,
    offset: int = 0,
) -> dict:
    """One wrk run against /webhook: requests per second, p50/p99 in ms, errors."""
    environment = {
        **os.environ,
        "BENCH_BODIES": str(bodies),
        "BENCH_AUTHORIZATION": authorization,
        "BENCH_DELAY_MS": str(delay_ms),
        "BENCH_OFFSET": str(offset),
    }
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA)]
    result = subprocess.run(
        [*command, f"{url}/webhook"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "rps": summary["requests"] / (summary["duration_us"] / 1e6),
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "errors": summary["socket_errors"] + summary["bad_status"],
        "requests": summary["requests"],
    }


class Readers:
    """Concurrent CSV downloads and repeated slow queries until stopped."""

    def __init__(self, base: str, viewer: tuple[str, str], csv_path: str, sql: str):
        self.base = base
        self.viewer = viewer
        self.urls = [f"{base}{csv_path}"] * 4
        query = urllib.parse.urlencode({"sql": sql})
        self.urls.append(f"{base}/archive.json?{query}")
        self._stop = threading.Event()
        self._threads = []
        self._processes = set()
        self._lock = threading.Lock()
        self.completed = 0

    def __enter__(self):
        for url in self.urls:
            thread = threading.Thread(target=self._repeat, args=(url,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_):
        self._stop.set()
        with self._lock:
            for process in self._processes:
                process.terminate()
        for thread in self._threads:
            thread.join(timeout=10)

    def _repeat(self, url: str) -> None:
        user = ":".join(self.viewer)
        while not self._stop.is_set():
            # The viewer's password goes in a config on stdin, not argv.
            process = subprocess.Popen(
                ["curl", "-s", "-o", "/dev/null", "-K", "-", url],
                stdin=subprocess.PIPE,
            )
            with self._lock:
                self._processes.add(process)
                if self._stop.is_set():
                    process.terminate()
            process.communicate(f'user = "{user}"\n'.encode())
            with self._lock:
                self._processes.discard(process)
                self.completed += 1
