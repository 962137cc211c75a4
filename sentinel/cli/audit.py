"""``sentinel-run audit ...``: verify, prove, consistency, checkpoint, keys, query, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sentinel.audit.checkpoints import SignedCheckpoint
from sentinel.audit.consistency import check_witnessed_consistency
from sentinel.audit.location import STORE_ENV
from sentinel.audit.proofs import (
    load_keys,
    verifier_keys_in_file,
)
from sentinel.audit.store import AuditStore
from sentinel.audit.verify import VerificationReport, verify_store
from sentinel.cli import audit_proofs
from sentinel.cli.output import JsonOption, console, print_json, reports_errors

app = typer.Typer(help="Verify, prove and query the audit trail.", no_args_is_help=True)

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar=STORE_ENV,
        help="The audit store (SQLite file; default: $SENTINEL_STORE, else the data directory's).",
    ),
]
WitnessOption = Annotated[
    Path | None,
    typer.Option(
        "--witness",
        help="The witness directory (default: $SENTINEL_WITNESS_DIR or the standard one).",
    ),
]
NoWitnessOption = Annotated[
    bool, typer.Option("--no-witness", help="Do not compare with witnessed checkpoints.")
]
KeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        help="A trusted verifier key (name+id+key) or a file of them; repeatable.",
    ),
]


_existing = audit_proofs.existing_store


def _report_table(report: VerificationReport) -> Table:
    table = Table(title=f"audit verify: {report.path}", title_justify="left")
    table.add_column("position", justify="right")
    table.add_column("problem", style="bold red")
    table.add_column("detail", overflow="fold")
    for problem in report.problems:
        table.add_row(
            "-" if problem.position is None else str(problem.position), problem.kind, problem.detail
        )
    return table


@app.command()
@reports_errors
def verify(
    store: StoreOption = None,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="A checkpoint note kept outside the store.")
    ] = None,
    key: KeyOption = None,
    witness: WitnessOption = None,
    no_witness: NoWitnessOption = False,
    as_json: JsonOption = False,
) -> None:
    """Check every link, rule, Merkle checkpoint and signature; exit 1 if anything is wrong."""
    path = _existing(store)
    witnessing: Path | bool = False if no_witness else (witness or True)
    keys = load_keys(key) if key else None
    external = (
        SignedCheckpoint.parse(checkpoint.read_text(), source=str(checkpoint))
        if checkpoint
        else None
    )
    if as_json:
        report = verify_store(path, trusted_keys=keys, checkpoint=external, witness=witnessing)
        print_json(report.to_dict())
    else:
        columns = (
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("verify", total=None)
            report = verify_store(
                path,
                trusted_keys=keys,
                checkpoint=external,
                witness=witnessing,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        if report.ok:
            console.print(
                f"[green]verified[/green] {report.events_checked} events, "
                f"{report.checkpoints_checked} checkpoints, signatures checked with "
                f"{len(report.keys)} key(s) from the {report.key_source}"
            )
            if report.witnessed is None:
                console.print(
                    "[yellow]note:[/yellow] no witnessed checkpoint of this log was found; a "
                    "rewrite that also deletes checkpoints can only be caught with one"
                )
            else:
                console.print(f"matches the witnessed checkpoint of size {report.witnessed}")
            if report.key_source == "store":
                console.print(
                    "[yellow]note:[/yellow] keys came from the store itself; pass --key with a key "
                    "you hold to rule out a rewrite by someone with write access"
                )
        else:
            console.print(_report_table(report))
            console.print(f"[bold red]first bad position: {report.first_bad_position}[/bold red]")
    if not report.ok:
        raise typer.Exit(1)


@app.command("prove")
@reports_errors
def prove_command(
    event_id: Annotated[str, typer.Argument(help="The event's id (UUIDv7).")],
    store: StoreOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the proof here.")] = None,
) -> None:
    """Print an inclusion proof of one event against a signed checkpoint.

    Reads the store only, unless no checkpoint covers the event yet (then one is signed).
    """
    audit_proofs.prove_command(audit_proofs.ProveRequest(event_id, store, out))


@app.command("verify-proof")
@reports_errors
def verify_proof(
    proof_file: Annotated[Path, typer.Argument(help="A proof written by `audit prove`.")],
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check an inclusion proof offline against trusted keys; exit 1 if it fails."""
    if not key:
        raise typer.BadParameter(
            "give at least one --key: a proof means nothing without a trusted key"
        )
    request = audit_proofs.VerifyProofRequest(proof_file, list(key), as_json)
    status = audit_proofs.verify_proof_command(request)
    if status:
        raise typer.Exit(status)


@app.command()
@reports_errors
def checkpoint(
    store: StoreOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the note here.")] = None,
) -> None:
    """Sign a checkpoint of the log as it is now and print the note (keep it elsewhere)."""
    with AuditStore(_existing(store), create=False) as opened:
        note = opened.checkpoint().to_note()
    if out is None:
        typer.echo(note, nl=False)
    else:
        out.write_text(note)
        console.print(f"checkpoint written to {out}")


@app.command()
@reports_errors
def key(store: StoreOption = None, as_json: JsonOption = False) -> None:
    """Print the verifier keys of the store, oldest first, one per line (give them to auditors).

    The output can be saved to a file and passed back with --key FILE.
    """
    keys = verifier_keys_in_file(_existing(store))
    if as_json:
        print_json({"current": str(keys[-1]) if keys else None, "all": [str(k) for k in keys]})
        return
    for known in keys:
        typer.echo(str(known))


@app.command("rotate-key")
@reports_errors
def rotate_key(store: StoreOption = None) -> None:
    """Start signing with a new key; the next checkpoint carries both signatures."""
    with AuditStore(_existing(store), create=False) as opened:
        new = opened.rotate_key()
    typer.echo(str(new))


@app.command("query")
@reports_errors
def query_command(
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the table `events`.")],
    store: StoreOption = None,
    hosts: Annotated[
        bool,
        typer.Option(
            "--hosts",
            help="A `run --hosts` run: every host's store merged (column `host`, 0 the"
            " coordinator), in Lamport order with the host as tie-break.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run DuckDB SQL over the log (table `events`; payload is JSON text)."""
    if hosts:
        from sentinel.hosts.merged import query_merged  # noqa: PLC0415 - duckdb only when asked

        table = query_merged(sql, _existing(store))
    else:
        from sentinel.audit.analytics import query  # noqa: PLC0415 - duckdb only when asked

        table = query(sql, _existing(store))
    rows = table.to_pylist()
    if as_json:
        print_json(rows)
        return
    view = Table(show_lines=False)
    for name in table.column_names:
        view.add_column(name, overflow="fold")
    for row in rows:
        view.add_row(*("" if value is None else str(value) for value in row.values()))
    console.print(view)
    console.print(f"{len(rows)} row(s)")


@app.command()
@reports_errors
def export(
    parquet: Annotated[Path, typer.Option("--parquet", help="Destination Parquet file.")],
    store: StoreOption = None,
) -> None:
    """Export every event to Parquet."""
    from sentinel.audit.analytics import export_parquet  # noqa: PLC0415 - pyarrow only here

    count = export_parquet(_existing(store), parquet)
    console.print(f"{count} events written to {parquet}")


@app.command()
@reports_errors
def consistency(
    store: StoreOption = None,
    witness: WitnessOption = None,
    key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check RFC 9162 consistency proofs between the witnessed checkpoints and the store.

    Each witnessed checkpoint must be a prefix of the next one and of the store's log;
    exit 1 if any is not (history was rewritten) or if no checkpoint was witnessed.
    """
    report = check_witnessed_consistency(
        _existing(store), witness=witness or True, trusted_keys=load_keys(key) if key else None
    )
    if as_json:
        print_json(report.to_dict())
    elif report.ok:
        console.print(
            f"[green]consistent[/green]: {len(report.sizes)} witnessed checkpoint(s) "
            f"({', '.join(str(size) for size in report.sizes)}) are prefixes of the log of "
            f"{report.log_size} events"
        )
    else:
        for problem in report.problems:
            console.print(f"[bold red]inconsistent[/bold red]: {problem}")
    if not report.ok:
        raise typer.Exit(1)


NatsOption = Annotated[
    list[str],
    typer.Option("--nats", help="A NATS server URL of the JetStream cluster; repeatable."),
]


@app.command()
@reports_errors
def replicate(nats_url: NatsOption, store: StoreOption = None) -> None:
    """Replicate the store to its JetStream stream (R3, events batched; replays deduplicated)."""
    import asyncio  # noqa: PLC0415 - only this command and mirror need it

    from sentinel.durable.replicate import replicate as run_replication  # noqa: PLC0415

    count = asyncio.run(run_replication(_existing(store), nats_url))
    console.print(f"{count} events acknowledged by the stream")


@app.command()
@reports_errors
def mirror(
    log_id: Annotated[str, typer.Argument(help="The log id of the store to rebuild.")],
    out: Annotated[Path, typer.Option("--out", help="The new store file.", dir_okay=False)],
    nats_url: NatsOption,
) -> None:
    """Rebuild a store from its JetStream stream, then verify it; exit 1 if it does not verify."""
    import asyncio  # noqa: PLC0415 - only this command and replicate need it

    from sentinel.durable.replicate import mirror as run_mirror  # noqa: PLC0415

    count = asyncio.run(run_mirror(log_id, nats_url, out))
    report = verify_store(out, witness=False)
    console.print(
        f"{count} events mirrored into {out}: {'verified' if report.ok else 'NOT verified'}"
    )
    if not report.ok:
        raise typer.Exit(1)
