"""`canon sample | train | resolve | evaluate | dedupe | refresh`: the resolver's commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from api.cli.common import WorkdirOpt, err, fail, out, progress_bar, readable_errors
from api.settings_errors import settings_error
from calibration import write_simulated_labels
from resolver import (
    ENGINES,
    EngineOptions,
    Evaluation,
    Resolution,
    ResolveQuery,
    Resolver,
    ResolverError,
    check_engine,
    dedupe_workdir,
    evaluate,
    load_resolver,
    parse_expected,
    parse_queries,
    refresh_workdir,
    train_workdir,
)
from resolver.atomic import atomic_write

EngineOpt = Annotated[
    str, typer.Option("--engine", help=f"where splink runs: {' | '.join(ENGINES)}")
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL (default local[*]; spark://host:7077, yarn, k8s://… on a cluster)",
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="extra Spark setting KEY=VALUE (repeat)"),
]


def _token_signer(workdir: Path) -> Callable[[Resolution], str | None]:
    """Signs with the workdir's secret, as `canon serve` on that workdir does; the tokens are
    issued to the local operator, not to an API key, so the gate takes none of them (an agent
    resolves over the API with its own key)."""
    from api.settings import Settings, token_keys
    from gateway.errors import SecretError
    from gateway.keys import LOCAL_OPERATOR
    from gateway.tokens import TokenSigner

    try:
        settings = Settings(workdir=workdir)
        keys = token_keys(settings)[0]
    except ValidationError as e:
        first = e.errors()[0]
        fail(settings_error(first))
    except SecretError as e:
        fail(e.message)
    signer = TokenSigner(keys, settings.token_ttl_seconds)
    return lambda resolution: signer.issue(resolution, holder=LOCAL_OPERATOR.actor)


def resolution_json(resolution: Resolution, token: str | None) -> dict[str, Any]:
    """The resolve response: the Resolution plus its resolution token (match and no_match)."""
    body = resolution.model_dump(mode="json")
    body["resolution_token"] = token
    return body


def sample(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write data/, truth/, queries")],
    suppliers: Annotated[
        int, typer.Option(min=100, max=1_080_000, help="number of suppliers")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Write a seeded, Protheus-shaped sample master with ground truth and agent queries."""
    # A door to the sandbox (import-linter allows it here only); it also pulls in Faker.
    from sandbox.synthetic import generate_sample

    with readable_errors(), progress_bar() as bar:
        task = bar.add_task("generating", total=None)

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        summary = generate_sample(out_dir, suppliers=suppliers, seed=seed, progress=tick)
        write_simulated_labels(out_dir)
    table = Table(title=f"sample in {out_dir} (seed {summary.seed})")
    for col in ("file", "rows", "soft-deleted"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for name, rows in summary.rows.items():
        table.add_row(f"data/{name}.csv", f"{rows:,}", f"{summary.deleted_rows.get(name, 0):,}")
    table.add_row("queries.jsonl / expected.jsonl", f"{summary.queries:,}", "")
    err.print(table)


def _engine(
    engine: str, spark_master: str | None, spark_conf: list[str] | None, workdir: Path
) -> EngineOptions:
    config = {}
    for item in spark_conf or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--spark-conf: expected KEY=VALUE, got {item!r}")
        config[key.strip()] = value.strip()
    if engine != "spark" and (spark_master or config):
        fail("--spark-master and --spark-conf need --engine spark")
    with readable_errors():
        chosen = check_engine(engine)
    return EngineOptions(chosen, spark_master, config, workdir / "spark-checkpoints")


def train(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="folder of ERP extracts (CSV); with --source erp, where to keep them"
        ),
    ] = None,
    workdir: WorkdirOpt = Path("var"),
    profile: Annotated[
        Path | None,
        typer.Option(help="ERP profile YAML (default: Protheus; with --source erp, the kind's)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of u sampling")] = 42,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
    source: Annotated[
        str, typer.Option(help="files: the --data folder | erp: read the master from the ERP")
    ] = "files",
    erp_kind: Annotated[
        str | None, typer.Option(help="protheus | sap | oracle (CANON_ERP_KIND)")
    ] = None,
    erp_url: Annotated[str | None, typer.Option(help="the ERP's base URL (CANON_ERP_URL)")] = None,
    erp_username: Annotated[
        str | None,
        typer.Option(help="ERP user (CANON_ERP_USERNAME; the password: CANON_ERP_PASSWORD)"),
    ] = None,
    erp_auth: Annotated[
        str | None, typer.Option(help="Protheus: basic | oauth2 (CANON_ERP_AUTH)")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, help="rows per ERP page")] = 500,
    entity_types: Annotated[
        str | None,
        typer.Option(
            "--entity-types",
            help="comma-separated entity types to train (default: every one with an extract)",
        ),
    ] = None,
    count_pairs: Annotated[
        bool,
        typer.Option(
            "--count-pairs",
            help="also count the candidate pairs each type's blocking rules generate (exact; "
            "one more pass over the master)",
        ),
    ] = False,
) -> None:
    """Train one splink model per entity type and build the serving index."""
    chosen = [t.strip() for t in entity_types.split(",") if t.strip()] if entity_types else None
    options = _engine(engine, spark_master, spark_conf, workdir)
    if source not in ("files", "erp"):
        fail(f"--source {source}: expected files or erp")
    if source == "files":
        if data is None:
            fail("--data FOLDER is needed (or --source erp to read the master from the ERP)")
        if erp_kind or erp_url or erp_username or erp_auth:
            fail("--erp-kind, --erp-url, --erp-username and --erp-auth need --source erp")
        _train(data, workdir, profile, seed, options, chosen, count_pairs)
        return
    from api.cli.train_erp import ErpSource, extracts_from_erp

    erp = ErpSource(erp_kind, erp_url, erp_username, erp_auth, page_size)
    with extracts_from_erp(erp, profile, data) as (folder, fetched_profile):
        _train(folder, workdir, fetched_profile, seed, options, chosen, count_pairs)


def _train(
    data: Path,
    workdir: Path,
    profile: Path | None,
    seed: int,
    options: EngineOptions,
    entity_types: list[str] | None = None,
    count_pairs: bool = False,
) -> None:
    with readable_errors(), err.status("training") as status:
        summary = train_workdir(
            data,
            workdir,
            profile,
            seed=seed,
            progress=status.update,
            engine=options,
            entity_types=entity_types,
            count_pairs=count_pairs,
        )
    # The model's name above the table, not as its title: a title wider than the table wraps.
    out.print(f"model {summary.model_version} ({summary.seconds:.1f} s)", highlight=False)
    table = Table()
    columns = ("entity type", "rows", *(("candidate pairs",) if count_pairs else ()), "seconds")
    for col in columns:
        table.add_column(col, justify="left" if col == "entity type" else "right")
    for r in summary.reports:
        cells = [r.entity_type, f"{r.rows:,}"]
        if count_pairs:
            cells.append("—" if r.candidate_pairs is None else f"{r.candidate_pairs:,}")
        table.add_row(*cells, f"{r.seconds:.1f}")
    out.print(table)
    # The weights go below the table, one line per type: as a column they made the table
    # unreadable in an 80-column terminal.
    width = max((len(r.entity_type) for r in summary.reports), default=0)
    if any(r.parameters for r in summary.reports):
        out.print("match weights per level (bits):", highlight=False)
    for r in summary.reports:
        if r.parameters:
            out.print(f"  {r.entity_type:<{width}}  {_weights(r.parameters)}",
                      highlight=False, soft_wrap=True, markup=False)  # fmt: skip
    for r in summary.reports:
        for warning in r.warnings:
            err.print(f"[yellow]note[/yellow] {r.entity_type}: {warning}", highlight=False)
    for name, why in summary.skipped.items():
        err.print(f"[yellow]skipped[/yellow] {name}: {why}", highlight=False)


def _weights(parameters: dict[str, list[tuple[str, float]]]) -> str:
    return "; ".join(
        f"{comp}: " + " ".join(f"{w:+.1f}" for _, w in levels)
        for comp, levels in parameters.items()
    )


def _atomic_lines(path: Path, lines: Iterator[str]) -> None:
    with atomic_write(path) as fh:
        for line in lines:
            fh.write(line + "\n")


def resolve(
    workdir: WorkdirOpt = Path("var"),
    input_file: Annotated[Path | None, typer.Option("--input", help="queries, JSON lines")] = None,
    output: Annotated[Path | None, typer.Option(help="results, JSON lines")] = None,
    json_query: Annotated[str | None, typer.Option("--json", help="one query as JSON")] = None,
    text: Annotated[
        str | None,
        typer.Option("--text", help="one free-text mention: 'the supplier ACME AG in Zürich'"),
    ] = None,
    entity_type: Annotated[
        str | None, typer.Option("--entity-type", help="with --text: the entity type meant")
    ] = None,
) -> None:
    """Resolve queries to canonical ERP ids; ambiguous or unknown ones halt."""
    if sum(x is not None for x in (json_query, input_file, text)) != 1:
        fail("give one of --json '{...}', --text 'SENTENCE' or --input FILE (with --output FILE)")
    if entity_type is not None and text is None:
        fail("--entity-type goes with --text (in --json, give entity_type in the query)")
    with readable_errors():
        resolver = load_resolver(workdir)
        issue = _token_signer(workdir)
        if json_query is not None or text is not None:
            try:
                query = (
                    ResolveQuery.model_validate_json(json_query)
                    if json_query is not None
                    else ResolveQuery(text=text, entity_type=entity_type)
                )
            except ValidationError as e:
                first = e.errors()[0]
                where = "--json" if json_query is not None else "--text"
                fail(
                    f"{where}: {'.'.join(str(p) for p in first['loc']) or 'query'}: {first['msg']}"
                )
            result = resolver.resolve(query)
            out.print_json(json.dumps(resolution_json(result, issue(result))))
            return
        assert input_file is not None
        if output is None:
            fail("--input needs --output FILE")
        queries = parse_queries(input_file)
        _resolve_all(resolver, queries, output, issue)


def _resolve_all(
    resolver: Resolver,
    queries: list[ResolveQuery],
    output: Path,
    issue: Callable[[Resolution], str | None],
) -> None:
    counts: dict[str, int] = {}
    with progress_bar() as bar:
        task = bar.add_task("resolving", total=len(queries))

        def lines() -> Iterator[str]:
            for n, query in enumerate(queries, start=1):
                try:
                    result = resolver.resolve(query)
                except ResolverError as e:
                    raise ResolverError(f"query {n} (id {query.id}): {e}") from e
                counts[result.decision.value] = counts.get(result.decision.value, 0) + 1
                bar.advance(task)
                yield json.dumps(resolution_json(result, issue(result)), ensure_ascii=False)

        _atomic_lines(output, lines())
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    err.print(f"resolved {len(queries)} queries into {output} ({summary})", highlight=False)


def evaluate_cmd(
    workdir: WorkdirOpt = Path("var"),
    queries: Annotated[Path, typer.Option(help="queries, JSON lines")] = Path("queries.jsonl"),
    truth: Annotated[Path, typer.Option(help="expected outcomes, JSON lines")] = Path(
        "expected.jsonl"
    ),
) -> None:
    """Match precision, coverage and halt rate by query kind, beside the naive baseline."""
    with readable_errors():
        resolver = load_resolver(workdir)
        parsed = parse_queries(queries)
        expected = parse_expected(truth)
        with progress_bar() as bar:
            task = bar.add_task("evaluating", total=len(parsed))
            result = evaluate(resolver, parsed, expected, progress=lambda: bar.advance(task))
    print_evaluation(result)


def print_evaluation(result: Evaluation) -> None:
    """The evaluation table: per kind, then overall precision / coverage / halt rate."""
    table = Table(title="evaluation (Canon | naive baseline: best fuzzy name match ≥ 90)")
    # The kinds keep their whole names in 80 columns; the headers of the numbers wrap instead.
    longest = max((len(k) for k in result.canon), default=4)
    table.add_column("kind", no_wrap=True, min_width=longest)
    for col in ("expect", "n", "right", "wrong", "halted", "base right", "base wrong"):
        table.add_column(col, justify="left" if col == "expect" else "right")
    for kind in sorted(result.canon, key=lambda k: (result.expected_by_kind[k], k)):
        c, b = result.canon[kind], result.baseline[kind]
        table.add_row(
            kind,
            result.expected_by_kind[kind],
            str(c.n),
            str(c.right),
            str(c.wrong),
            str(c.halted),
            str(b.right),
            str(b.wrong),
        )
    out.print(table)
    summary = Table(title="summary")
    for col in ("", "match precision", "coverage", "halt rate", "matches", "queries"):
        summary.add_column(col, justify="right")
    for label, tallies in (("Canon", result.canon), ("baseline", result.baseline)):
        s = Evaluation.summary(tallies, result.expected_by_kind)
        summary.add_row(
            label,
            f"{s['precision']:.2%}",
            f"{s['coverage']:.2%}",
            f"{s['halt_rate']:.2%}",
            f"{s['matches']:.0f}",
            f"{s['queries']:.0f}",
        )
    out.print(summary)


def dedupe(
    workdir: WorkdirOpt = Path("var"),
    entity_type: Annotated[
        str, typer.Option("--entity-type", help="supplier, customer, employee or contact")
    ] = "supplier",
    threshold: Annotated[
        float | None, typer.Option(help="match probability that links two records (0.9)")
    ] = None,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMasterOpt = None,
    spark_conf: SparkConfOpt = None,
) -> None:
    """Cluster the duplicates of an entity type's master; cluster ids stay stable across runs."""
    options = _engine(engine, spark_master, spark_conf, workdir)
    with readable_errors(), progress_bar() as bar:
        task = bar.add_task("deduping", total=None)

        def tick(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        summary = dedupe_workdir(workdir, entity_type, threshold, engine=options, progress=tick)
    table = Table(title=f"dedupe {summary.entity_type} run {summary.run} ({summary.seconds:.1f} s)")
    table.add_column("", justify="left")
    table.add_column("", justify="right")
    rows = [
        ("records", summary.records),
        (f"pairs with P ≥ {summary.threshold}", summary.pairs),
        ("clusters", summary.clusters),
        ("clusters of 2+ records", summary.multi_record_clusters),
        ("records in them", summary.records_in_multi),
        ("records keeping their cluster id", summary.kept_ids),
        ("new cluster ids", summary.new_ids),
        (
            "merges / splits / retired ids",
            f"{summary.merges} / {summary.splits} / {summary.retired}",
        ),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)
    err.print(f"written to {summary.path} and {workdir / 'dedupe' / 'dedupe.duckdb'}")


def refresh(
    data: Annotated[Path, typer.Option("--data", help="folder of delta extracts (CSV)")],
    workdir: WorkdirOpt = Path("var"),
) -> None:
    """Apply new, changed and soft-deleted rows to the serving index without retraining."""
    with readable_errors(), err.status("refreshing") as status:
        summary = refresh_workdir(workdir, data, progress=status.update)
    table = Table(title=f"index {summary.index_version} ({summary.seconds:.1f} s)")
    for col in ("entity type", "added", "changed", "deleted", "unknown deletes", "records"):
        table.add_column(col, justify="left" if col == "entity type" else "right")
    for d in summary.deltas:
        table.add_row(
            d.entity_type,
            *(f"{v:,}" for v in (d.added, d.changed, d.deleted, d.absent_deletes, d.records)),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the resolver's commands to the `canon` app."""
    app.command("sample")(sample)
    app.command("train")(train)
    app.command("resolve")(resolve)
    app.command("evaluate")(evaluate_cmd)
    app.command("dedupe")(dedupe)
    app.command("refresh")(refresh)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `canon` command")
