"""Command-line tools for the archive: `python cli.py COMMAND --help`.

Each command reads the same environment as the service (see config.py), so a
command run next to the web process talks to the same archive and webhook.
"""

import os
import sqlite3
import sys
from pathlib import Path

import click

import backup as backups
import config
import names
import retention
import simulator

database_option = click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DATABASE_PATH",
    default=config.DEFAULT_DATABASE,
    show_default="$DATABASE_PATH or data/archive.db",
    help="The archive file.",
)
folder_option = click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="BACKUP_DIR",
    default=None,
    help="Folder for backups; default $BACKUP_DIR or backups/ beside the archive.",
)


@click.group()
def cli():
    """Tools for the Control Hub room archive."""


@cli.command()
@click.option(
    "--url",
    default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/webhook",
    show_default="http://127.0.0.1:$PORT/webhook",
    help="The webhook to post to.",
)
@click.option(
    "--rooms", default=6, show_default=True, help="Workspaces, one Room Kit each."
)
@click.option(
    "--backfill-hours",
    default=0.0,
    show_default=True,
    help="First post this many past hours, quickly, as history.",
)
@click.option(
    "--step",
    default=120,
    show_default=True,
    help="Seconds between device reports in the backfill.",
)
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    help="Seconds between live rounds of reports.",
)
@click.option(
    "--duration",
    type=float,
    default=None,
    help="Stop after this many seconds of live traffic; default: run until stopped.",
)
@click.option(
    "--seed", default=1, show_default=True, help="Same seed, same rooms and IDs."
)
def simulate(url, rooms, backfill_hours, step, interval, duration, seed):
    """Post realistic Control Hub traffic to a running webhook.

    Credentials come from WEBHOOK_TOKEN, or WEBHOOK_USERNAME and WEBHOOK_PASSWORD.
    """
    token = os.environ.get("WEBHOOK_TOKEN")
    username, password = (
        os.environ.get("WEBHOOK_USERNAME"),
        os.environ.get("WEBHOOK_PASSWORD"),
    )
    if username and password:
        authorization = simulator.basic_authorization(username, password)
    elif token:
        authorization = token
    else:
        sys.exit(
            "simulate: set WEBHOOK_TOKEN, or WEBHOOK_USERNAME and WEBHOOK_PASSWORD"
        )
    sender = simulator.Sender(url, authorization)
    building = simulator.Building(rooms=rooms, seed=seed)
    click.echo(f"simulating {rooms} rooms against {url}")
    try:
        simulator.run(
            sender, building, backfill_hours, step, interval, duration, click.echo
        )
    except KeyboardInterrupt:
        click.echo(f"stopped after {len(sender.acknowledged)} acknowledged messages")


@cli.command("import-names")
@click.argument(
    "exports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False)
)
@click.option(
    "--database",
    envvar="DATABASE_PATH",
    default=config.DEFAULT_DATABASE,
    show_default="$DATABASE_PATH or " + config.DEFAULT_DATABASE,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive to name rooms and devices in.",
)
def import_names(exports, database):
    """Name workspaces and devices from Control Hub's CSV exports.

    Each EXPORT is a workspace or device export (Control Hub → Workspaces or
    Devices → Export); which one is told by its columns. Rows are added or
    updated by ID; nothing is deleted, and archived messages are not touched.
    """
    failed = False
    for export in exports:
        try:
            report = names.import_file(database, Path(export))
        except (names.UnknownExport, UnicodeDecodeError, OSError) as error:
            click.echo(f"{export}: not imported: {error}", err=True)
            failed = True
            continue
        click.echo(f"{export}: {report.summary()}")
        for reason in report.skipped:
            click.echo(f"  skipped {reason}", err=True)
    sys.exit(1 if failed else 0)


@cli.command("simulated-names")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rooms", default=6, show_default=True, help="As for simulate.")
@click.option("--seed", default=1, show_default=True, help="As for simulate.")
def simulated_names(folder, rooms, seed):
    """Write workspace and device exports for the simulator's rooms into FOLDER."""
    building = simulator.Building(rooms=rooms, seed=seed)
    for path in simulator.write_name_exports(building, folder):
        click.echo(f"wrote {path}")


@cli.command()
@database_option
@folder_option
@click.option("--gzip", "compress", is_flag=True, help="Write a .db.gz file.")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    envvar="BACKUP_KEEP",
    default=7,
    show_default=True,
    help="Delete older backups beyond this many.",
)
def backup(database, folder, compress, keep):
    """Write a consistent copy of the archive while the service keeps running."""
    folder = folder or backups.default_folder(database)
    try:
        written = backups.backup(database, folder, compress=compress, keep=keep)
    except backups.BackupError as error:
        sys.exit(f"backup: {error}")
    click.echo(f"backup written to {written} ({written.stat().st_size} bytes)")


@cli.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@database_option
@folder_option
@click.confirmation_option(
    prompt="Replace the archive's contents with this backup?",
    help="Do not ask for confirmation.",
)
def restore(source, database, folder):
    """Replace the archive with a backup (.db or .db.gz), keeping a safety copy."""
    folder = folder or backups.default_folder(database)
    try:
        safety = backups.restore(source, database, folder)
    except backups.BackupError as error:
        sys.exit(f"restore: {error}")
    if safety:
        click.echo(f"the archive as it was is saved in {safety}")
    click.echo(f"restored {database} from {source}")


@cli.command()
@database_option
@click.option(
    "--days",
    type=click.IntRange(min=1),
    envvar="RETENTION_DAYS",
    required=True,
    help="Delete what was received more than this many days ago; $RETENTION_DAYS.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=retention.BATCH_MESSAGES,
    show_default=True,
    help="Messages deleted per transaction.",
)
def prune(database, days, batch):
    """Delete old messages, their rows and old rejections; reclaim the space."""
    try:
        pruned = retention.prune(database, days, batch=batch)
    except (OSError, sqlite3.Error) as error:
        sys.exit(f"prune: {error}")
    click.echo(pruned.summary())


@cli.command()
@database_option
def compact(database):
    """Rewrite an archive made before retention existed so pruning shrinks it.

    Run once, in a quiet hour: the webhook answers 503 while it runs and
    Control Hub retries later. It needs free disk as large as the archive.
    """
    try:
        retention.compact(database)
    except (OSError, sqlite3.Error) as error:
        sys.exit(f"compact: {error}")
    click.echo(f"compacted {database}; pruning now returns space to the disk")


if __name__ == "__main__":
    cli()
