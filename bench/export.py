"""Full CSV export over HTTP: rows per second, worker CPU a row and peak memory.

The download is read in chunks and its lines counted while the gunicorn
workers' resident memory is sampled, so a memory that grew with the row count
would show as a higher peak for the larger export. The workers' CPU time a
row hardly depends on what else the machine runs, unlike rows per second.
A download counts as complete only if it ends with a whole line: Datasette
ends a stream whose page failed with the error's text instead.
"""

import base64
import threading
import time
import urllib.error
import urllib.request

SAMPLE_SECONDS = 0.2


def export_csv(
    base: str, path: str, viewer: tuple[str, str], server, seconds: float
) -> dict:
    """Download base+path for up to `seconds`; return rows, rows/s, peak RSS in MB.

    A download cut short still measures the rate and the memory while
    streaming; `complete` says whether the whole table arrived.
    """
    token = base64.b64encode(":".join(viewer).encode()).decode()
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Basic {token}"}
    )
    peak = {"mb": max([0.0, *server.worker_rss_mb()])}
    cpu = server.cpu_seconds()
    done = threading.Event()

    def sample():
        while not done.wait(SAMPLE_SECONDS):
            peak["mb"] = max([peak["mb"], *server.worker_rss_mb()])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = 0
    started = time.perf_counter()
    complete = False
    status = 200
    last = b""
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            while time.perf_counter() - started < seconds:
                chunk = response.read1(1 << 20)
                if not chunk:
                    complete = last.endswith(b"\n")
                    break
                lines += chunk.count(b"\n")
                last = chunk
    except urllib.error.HTTPError as error:
        status = error.code  # reported in the table, not hidden
        lines = 1
    finally:
        done.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    rows = lines - 1  # the header line
    return {
        "rows": rows,
        "seconds": elapsed,
        "rows_per_s": rows / elapsed,
        "peak_worker_mb": peak["mb"],
        "worker_cpu_us_per_row": cpu * 1e6 / max(1, rows),
        "complete": complete,
        "status": status,
    }
