"""Full CSV export through Datasette: rows per second and the worker's peak memory.

The download is read in chunks and its lines counted while the gunicorn
workers' resident memory is sampled, so a memory that grew with the row count
would show as a higher peak for the larger export.
"""

import base64
import threading
import time
import urllib.request

SAMPLE_SECONDS = 0.2


def export_csv(base: str, path: str, viewer: tuple[str, str], server) -> dict:
    """Download base+path; return rows, rows/s and the workers' peak RSS in MB."""
    token = base64.b64encode(":".join(viewer).encode()).decode()
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Basic {token}"}
    )
    peak = {"mb": max([0.0, *server.worker_rss_mb()])}
    done = threading.Event()

    def sample():
        while not done.wait(SAMPLE_SECONDS):
            peak["mb"] = max([peak["mb"], *server.worker_rss_mb()])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = 0
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:
            while chunk := response.read(1 << 20):
                lines += chunk.count(b"\n")
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    rows = lines - 1  # the header line
    return {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
            "peak_worker_mb": peak["mb"]}  # fmt: skip
