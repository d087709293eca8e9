"""Run the whole service locally: gunicorn from the Procfile, fed by the simulator.

`make run` calls this. It keeps the archive in data/archive.db, makes random
development credentials once (data/dev.env, never committed), prints them,
starts the web process exactly as the Procfile does, backfills a day of
simulated traffic and keeps posting live traffic until Ctrl-C.
"""

import os
import secrets
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "data"
DEV_ENV = DATA / "dev.env"


def dev_environment() -> dict:
    """The development credentials, created on first use and reused after."""
    DATA.mkdir(exist_ok=True)
    if not DEV_ENV.exists():
        values = {
            "WEBHOOK_USERNAME": "controlhub",
            "WEBHOOK_PASSWORD": secrets.token_urlsafe(16),
            "WEBHOOK_TOKEN": secrets.token_urlsafe(24),
            "VIEWER_USERNAME": "viewer",
            "VIEWER_PASSWORD": secrets.token_urlsafe(12),
        }
        DEV_ENV.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        DEV_ENV.chmod(0o600)
    pairs = (
        line.split("=", 1) for line in DEV_ENV.read_text().splitlines() if "=" in line
    )
    return {key: value for key, value in pairs}


def procfile_command() -> list[str]:
    line = next(
        x for x in (HERE / "Procfile").read_text().splitlines() if x.startswith("web:")
    )
    return shlex.split(line.removeprefix("web:").strip())


def wait_until_healthy(port: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("the web process did not become healthy; see its log above")


def main() -> None:
    environment = {**os.environ, **dev_environment()}
    environment.setdefault("PORT", "8000")
    environment.setdefault("DATABASE_PATH", str(DATA / "archive.db"))
    port = environment["PORT"]
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = bin_dir + os.pathsep + environment.get("PATH", "")

    web = subprocess.Popen(procfile_command(), cwd=HERE, env=environment)
    try:
        wait_until_healthy(port)
        print(
            f"\n  Archive:  http://127.0.0.1:{port}/  (log in as "
            f"{environment['VIEWER_USERNAME']} / {environment['VIEWER_PASSWORD']})\n"
            f"  Webhook:  http://127.0.0.1:{port}/webhook  (Basic "
            f"{environment['WEBHOOK_USERNAME']} / {environment['WEBHOOK_PASSWORD']}, "
            f"or token {environment['WEBHOOK_TOKEN']})\n"
            f"  Credentials are kept in {DEV_ENV.relative_to(HERE)}. Ctrl-C stops.\n",
            flush=True,
        )
        simulate = [sys.executable, "cli.py", "simulate", "--backfill-hours", "24"]
        subprocess.run(simulate, cwd=HERE, env=environment, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        web.terminate()
        web.wait(timeout=40)


if __name__ == "__main__":
    main()
