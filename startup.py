"""Start-up checks on where the archive lives, run once by the gunicorn master.

`check_storage(settings)` raises ConfigError when the database cannot be
written at all, and returns warnings when its disk looks ephemeral, that is
likely to be wiped by the next deploy or restart. The heuristic, in order:

1. the file is under /tmp, /var/tmp or /dev/shm;
2. the filesystem holding it is in memory or a container's own layer
   (tmpfs, ramfs, overlay, aufs), read from /proc/self/mountinfo on Linux;
3. on a platform that rebuilds the application at each deploy (recognised by
   DYNO, RENDER or FLY_APP_NAME in the environment), the file sits on the
   same filesystem as the application's code rather than on a mounted volume.

A warning does not stop the service: a false alarm must not take it down.
"""

import os
import tempfile
from pathlib import Path

from config import ConfigError, Settings

CODE = Path(__file__).resolve().parent
TEMPORARY_DIRECTORIES = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
EPHEMERAL_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "overlay", "aufs"})
PLATFORM_MARKERS = ("DYNO", "RENDER", "FLY_APP_NAME")
MOUNTINFO = Path("/proc/self/mountinfo")


def check_storage(settings: Settings, environ=None) -> list[str]:
    """Refuse an unwritable database; return warnings about an ephemeral one."""
    environ = os.environ if environ is None else environ
    require_writable(settings.database_path)
    if not settings.production:
        return []  # the development runner keeps its archive beside the code
    return ephemeral_reasons(settings.database_path, environ, _read_mountinfo())


def require_writable(database: Path) -> None:
    """Raise ConfigError unless the database's directory and file can be written."""
    directory = database.parent
    if not directory.is_dir():
        raise ConfigError(
            f"database directory {directory} does not exist; create it or mount "
            "the volume there (DATABASE_PATH)"
        )
    # A real write, because os.access is always true for root, even on a
    # read-only mount or a directory another user owns.
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ConfigError(
            f"database directory {directory} is not writable ({error.strerror})"
        ) from None
    if database.exists():
        try:
            with open(database, "r+b"):
                pass
        except OSError as error:
            raise ConfigError(
                f"database {database} is not writable ({error.strerror})"
            ) from None


def ephemeral_reasons(database: Path, environ, mountinfo: str | None) -> list[str]:
    """Why the database's disk looks like it will be wiped; empty if it does not."""
    path = database.resolve()
    reasons = []
    if any(path.is_relative_to(folder) for folder in TEMPORARY_DIRECTORIES):
        reasons.append(f"{path} is in a temporary directory")
    if mountinfo is not None:
        mount_point, filesystem = mount_of(path, mountinfo)
        if filesystem in EPHEMERAL_FILESYSTEMS:
            reasons.append(
                f"{path} is on a filesystem of type {filesystem} at {mount_point}"
            )
    platform = next((name for name in PLATFORM_MARKERS if environ.get(name)), None)
    if platform and _same_filesystem(path.parent, CODE):
        reasons.append(
            f"{path} shares the application's filesystem, which {platform} "
            "platforms rebuild at every deploy"
        )
    return reasons


def mount_of(path: Path, mountinfo: str) -> tuple[str, str]:
    """The mount point and filesystem type holding path, from mountinfo text."""
    best = ("/", "")
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        mount_point = _unescape(fields[4])
        filesystem = fields[fields.index("-") + 1]
        if path.is_relative_to(mount_point) and len(mount_point) >= len(best[0]):
            best = (mount_point, filesystem)
    return best


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, character in (("040", " "), ("011", "\t"), ("012", "\n"), ("134", "\\")):
        field = field.replace("\\" + code, character)
    return field


def _same_filesystem(first: Path, second: Path) -> bool:
    try:
        return first.stat().st_dev == second.stat().st_dev
    except OSError:
        return False


def _read_mountinfo() -> str | None:
    try:
        return MOUNTINFO.read_text()
    except OSError:
        return None  # not Linux; the path rules still apply
