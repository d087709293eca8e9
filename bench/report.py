"""The benchmark table, in Markdown, from one run's results."""

FLAT_MEMORY_SLACK_MB = 10


def table(results: dict, plan: dict) -> str:
    """Markdown: what was measured, the figure, the target and whether it holds."""
    lines = [
        f"Machine: {results['machine']}",
        f"Load before: {results['load_before']}",
        f"Load after:  {results['load_after']}",
        f"Medians of {plan['runs']} runs of {plan['seconds']} s (wrk, 1 thread, "
        f"16 connections); pool of {results['pool']['bodies']} bodies, "
        f"{results['pool']['mean_bytes']:.0f} bytes on average.",
        "",
        "| what | measured | target | holds |",
        "| --- | --- | --- | --- |",
    ]
    if "bare" in results:
        lines += [_row(*row) for row in _ingest_rows(results)]
    if "archive" in results:
        lines += [_row(*row) for row in _archive_rows(results)]
    return "\n".join(lines)


def _ingest_rows(results: dict):
    bare, ingest = results["bare"], results["ingest"]
    ratio = ingest["rps"] / bare["rps"]
    yield "bare Flask, requests/s (p50 / p99 ms)", _rate(bare), "ceiling", None
    yield "webhook, requests/s (p50 / p99 ms)", _rate(ingest), "", None
    yield "webhook / bare Flask", f"{ratio:.2f}", ">= 0.90", ratio >= 0.90
    yield (
        "workers' CPU per request, bare Flask / webhook",
        f"{bare['cpu_ms']:.2f} / {ingest['cpu_ms']:.2f} ms = "
        f"{bare['cpu_ms'] / ingest['cpu_ms']:.2f}",
        "",
        None,
    )

    yield (
        "derivation after the burst: messages/s (workers' CPU per message)",
        f"{ingest['derived_per_s']:,.0f} ({ingest['derive_cpu_ms']:.2f} ms)",
        "",
        None,
    )
    yield (
        "webhook sustained, burst and its derivation, requests/s",
        f"{ingest['sustained_rps']:,.0f}",
        "",
        None,
    )

    half = results["half_load"]
    yield (
        f"webhook p99 at {half['offered_rps']:.0f} req/s offered "
        f"({half['rps']:.0f} served)",
        f"{half['p99_ms']:.1f} ms (p50 {half['p50_ms']:.1f})",
        "<= 10 ms",
        half["p99_ms"] <= 10,
    )

    yield (
        "cold start to first 200, new archive",
        f"{results['cold_start_s']:.2f} s",
        "<= 2 s",
        results["cold_start_s"] <= 2,
    )
    yield "memory per worker after start", f"{results['worker_mb']:.0f} MB", "", None


def _archive_rows(results: dict):
    idle, busy = results["ingest_big_idle"], results["ingest_with_readers"]
    share = busy["rps"] / idle["rps"]
    yield "webhook on the large archive, idle", _rate(idle), "", None
    yield "same, beside 4 CSV exports + slow SQL", _rate(busy), "", None
    yield "beside readers / idle", f"{share:.2f}", ">= 0.75", share >= 0.75
    yield (
        "cold start to first 200, large archive",
        f"{results['big_cold_start_s']:.2f} s",
        "<= 2 s",
        results["big_cold_start_s"] <= 2,
    )

    facts = results["archive"]
    yield (
        "large archive: status changes (messages)",
        f"{facts['status_changes']:,} ({facts['messages']:,})",
        ">= 10,000,000",
        facts["status_changes"] >= 10_000_000,
    )
    rollups = facts.get("rollup_seconds", 0)
    generation = facts["fill_seconds"] + facts["index_seconds"] + rollups
    yield (
        "generating it (filling + indexes + rollups)",
        (
            f"{generation:.0f} s ({facts['fill_seconds']:.0f} + "
            f"{facts['index_seconds']:.0f} + {rollups:.0f})"
        ),
        "",
        None,
    )
    for page in results["pages"]:
        note = (
            f" ({', '.join(page['timed_out'])} timed out)" if page["timed_out"] else ""
        )
        yield (
            page["what"],
            f"{page['median_ms']:.0f} ms, max {page['max_ms']:.0f}{note}"
            + ("" if page["status"] == 200 else f" HTTP {page['status']}"),
            f"<= {page['target_ms']} ms",
            page["median_ms"] <= page["target_ms"]
            and page["status"] == 200
            and not page["timed_out"],
        )
    small, full = results["exports"]
    for export in (small, full):
        yield (
            f"CSV export, {export['rows']:,} rows"
            + ("" if export["complete"] else f" in {export['seconds']:.0f} s (cut)")
            + ("" if export["status"] == 200 else f", HTTP {export['status']}"),
            f"{export['rows_per_s']:,.0f} rows/s "
            f"({export['worker_cpu_us_per_row']:.1f} µs worker CPU a row), "
            f"peak worker {export['peak_worker_mb']:.0f} MB",
            ">= 100,000 rows/s",
            export["rows_per_s"] >= 100_000,
        )
    flat = full["peak_worker_mb"] <= small["peak_worker_mb"] + FLAT_MEMORY_SLACK_MB
    yield (
        "export memory flat in the row count",
        (f"{small['peak_worker_mb']:.0f} -> {full['peak_worker_mb']:.0f} MB"),
        f"+<= {FLAT_MEMORY_SLACK_MB} MB",
        flat,
    )
    per_message = facts["bytes_on_disk"] / facts["messages"]
    raw = facts["raw_json_bytes"] / facts["messages"]
    yield (
        "bytes on disk per message (raw JSON)",
        f"{per_message:.0f} ({raw:.0f}) = {facts['disk_per_raw']:.2f}x",
        "<= 2x",
        facts["disk_per_raw"] <= 2,
    )


def _rate(run: dict) -> str:
    return f"{run['rps']:,.0f} ({run['p50_ms']:.1f} / {run['p99_ms']:.1f})" + (
        f", {run['errors']:.0f} errors" if run["errors"] else ""
    )


def _row(what, measured, target, holds) -> str:
    verdict = "" if holds is None else ("yes" if holds else "**no**")
    return f"| {what} | {measured} | {target} | {verdict} |"
