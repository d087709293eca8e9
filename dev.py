"""Run the whole service locally: gunicorn from the Procfile, fed by the simulator.

`make run` calls this. It keeps the archive in data/archive.db, makes random
development credentials once (data/dev.env, never committed), prints them,
starts the web process exactly as the Procfile does but listening on
127.0.0.1 only, names the simulated rooms from CSV exports as an admin would
(data/names/), backfills a day of simulated traffic into an empty archive
and keeps posting live traffic until Ctrl-C. The web log goes to data/web.log.
"""

import os
import secrets
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "data"
DEV_ENV = DATA / "dev.env"
WEB_LOG = DATA / "web.log"


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
    lines = DEV_ENV.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def procfile_command() -> list[str]:
    """The Procfile's web command, as a list of arguments."""
    lines = (HERE / "Procfile").read_text().splitlines()
    line = next(x for x in lines if x.startswith("web:"))
    return shlex.split(line.removeprefix("web:").strip())


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def archive_is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    with sqlite3.connect(path) as connection:
        try:
            return (
                connection.execute("SELECT 1 FROM messages LIMIT 1").fetchone() is None
            )
        except sqlite3.OperationalError:
            return True


def wait_until_healthy(web: subprocess.Popen, port: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if web.poll() is not None:
            sys.exit(f"the web process stopped; see {WEB_LOG.relative_to(HERE)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the web process did not become healthy; see {WEB_LOG.relative_to(HERE)}")


def banner(environment: dict) -> str:
    port = environment["PORT"]
    return (
        f"\n  Archive:  http://127.0.0.1:{port}/  (log in as "
        f"{environment['VIEWER_USERNAME']} / {environment['VIEWER_PASSWORD']})\n"
        f"  Webhook:  http://127.0.0.1:{port}/webhook  (Basic "
        f"{environment['WEBHOOK_USERNAME']} / {environment['WEBHOOK_PASSWORD']}, "
        f"or token {environment['WEBHOOK_TOKEN']})\n"
        f"  Credentials: {DEV_ENV.relative_to(HERE)}   Log: "
        f"{WEB_LOG.relative_to(HERE)}   Ctrl-C stops.\n"
    )


def name_simulated_rooms(environment: dict) -> None:
    """Write the simulator's Control Hub exports and import them, as an admin would."""
    folder = DATA / "names"
    for command in (
        ["simulated-names", str(folder)],
        ["import-names", str(folder / "workspaces.csv"), str(folder / "devices.csv")],
    ):
        subprocess.run(
            [sys.executable, "cli.py", *command], cwd=HERE, env=environment, check=True
        )


def _stop_on_sigterm(signum, frame):
    # `kill` of this runner must not leave its gunicorn behind: end like Ctrl-C.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    environment = {**os.environ, **dev_environment()}
    environment.setdefault("PORT", "8000")
    environment.setdefault("ARCHIVE_ENV", "development")
    environment.setdefault("DATABASE_PATH", str(DATA / "archive.db"))
    port = environment["PORT"]
    if not port_is_free(int(port)):
        sys.exit(f"port {port} is in use; choose another, e.g. PORT=8001 make run")
    # Development listens on loopback only; the Procfile's 0.0.0.0 is for a PaaS.
    environment["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port}"
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = bin_dir + os.pathsep + environment.get("PATH", "")
    backfill = "24" if archive_is_empty(Path(environment["DATABASE_PATH"])) else "0"

    with open(WEB_LOG, "ab") as log:
        web = subprocess.Popen(
            procfile_command(), cwd=HERE, env=environment, stdout=log, stderr=log
        )
    try:
        wait_until_healthy(web, port)
        print(banner(environment), flush=True)
        name_simulated_rooms(environment)
        simulate = [sys.executable, "cli.py", "simulate", "--backfill-hours", backfill]
        subprocess.run(simulate, cwd=HERE, env=environment, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        stop(web)


def stop(web: subprocess.Popen) -> None:
    """Ask gunicorn to finish in-flight requests, and insist if it does not."""
    web.terminate()
    try:
        web.wait(timeout=40)
    except subprocess.TimeoutExpired:
        web.kill()
        web.wait()


if __name__ == "__main__":
    main()
