"""CLI commands of the ranking's knowledge and quality: `matchmaker thesaurus ...` and `matchmaker eval`.

``eval`` reports its progress as every long command does (:func:`matchmaker.cli_common.progress_reporter`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from matchmaker import db
from matchmaker.cli_common import console, fail, progress_reporter
from matchmaker.config import Settings, project_path
from matchmaker.errors import MatchmakerError
from matchmaker.search.eval_data import load_split

log = logging.getLogger("matchmaker.cli")
thesaurus_app = typer.Typer(
    help="The concept thesaurus (同义词 / 上下位 / 症状→技术 / 方向相反).", no_args_is_help=True
)


def _session_factory(settings: Settings):  # type: ignore[no-untyped-def]
    engine = db.create_db_engine(settings)
    return engine, db.create_session_factory(engine)


@thesaurus_app.command("list")
def thesaurus_list(
    q: Annotated[str | None, typer.Option(help="a term in the source or the target")] = None,
    relation: Annotated[str | None, typer.Option(help="synonym, broader, symptom or opposite")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
) -> None:
    """Print the links of the thesaurus."""
    from matchmaker.services import concepts

    engine, factory = _session_factory(Settings())
    try:
        with factory() as session:
            items, total = concepts.list_links(session, q=q, relation=relation, limit=limit)
    finally:
        engine.dispose()
    table = Table("id", "source", "relation", "target", "weight", "origin")
    for i in items:
        table.add_row(str(i.id), i.source, i.relation_label, i.target, f"{i.weight:g}", i.origin)
    Console().print(table)
    console.print(f"{len(items)} of {total} links")


@thesaurus_app.command("add")
def thesaurus_add(
    source: Annotated[str, typer.Argument(help="need-side term, e.g. 冷却时间长")],
    target: Annotated[str, typer.Argument(help="achievement-side term, e.g. 随形冷却")],
    relation: Annotated[str, typer.Option(help="synonym, broader, symptom or opposite")] = "symptom",
    weight: Annotated[float, typer.Option(min=0.01, max=1.0)] = 1.0,
    field: Annotated[str | None, typer.Option(help="industrial chain")] = None,
) -> None:
    """Add a link (rankings of running servers use it within their sync interval)."""
    from pydantic import ValidationError

    from matchmaker.schemas.concepts import ConceptLinkCreate
    from matchmaker.services import concepts

    try:
        data = ConceptLinkCreate(source=source, relation=relation, target=target, weight=weight, field=field)
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from exc
    engine, factory = _session_factory(Settings())
    try:
        with db.unit_of_work(factory) as session:
            link = concepts.create_link(session, data, None)
    except MatchmakerError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    console.print(f"link {link.id} added: {link.source} —{link.relation_label}→ {link.target}")


@thesaurus_app.command("remove")
def thesaurus_remove(link_id: Annotated[int, typer.Argument(help="the link's id (see `thesaurus list`)")]) -> None:
    """Remove a link."""
    from matchmaker.services import concepts

    engine, factory = _session_factory(Settings())
    try:
        with db.unit_of_work(factory) as session:
            concepts.delete_link(session, link_id, None)
    except MatchmakerError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    console.print(f"link {link_id} removed")


@thesaurus_app.command("load")
def thesaurus_load(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a thesaurus file (JSON lines)")],
    origin: Annotated[str, typer.Option(help="starter or manager")] = "manager",
) -> None:
    """Add the links of a thesaurus file that are not stored yet (data/thesaurus/starter.jsonl shows the format)."""
    from matchmaker.services import concepts

    engine, factory = _session_factory(Settings())
    try:
        with db.unit_of_work(factory) as session:
            added = concepts.load_file(session, path, origin=origin)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="PATH") from exc
    finally:
        engine.dispose()
    console.print(f"{added} links added from {path}")


@thesaurus_app.command("learn")
def thesaurus_learn(min_support: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Learn 症状→技术 links from the pairings managers accepted (shortlisted or further)."""
    from matchmaker.services import concepts

    engine, factory = _session_factory(Settings())
    try:
        with db.unit_of_work(factory) as session:
            added = concepts.learn_from_pairings(session, None, min_support=min_support)
    finally:
        engine.dispose()
    for link in added:
        console.print(f"learned {link.source} → {link.target}")
    console.print(f"{len(added)} links learned")


def run_eval(
    split: str, embedders: str | None, thesaurus: str | None, baselines: bool, as_json: Path | None, quiet: bool = False
) -> None:
    """`matchmaker eval`: the configuration `serve` runs (embedder, Traditional→Simplified, weights, thesaurus),
    beside baselines, with the confidence bands' precision; see the command's help."""
    from matchmaker.search import evaluation
    from matchmaker.search.bands import DEFAULT_BANDS, band_precision, is_good
    from matchmaker.search.ranking import Weights

    settings = Settings()
    directory = Path(split) if Path(split).is_dir() else project_path("data") / "eval" / split
    if not directory.exists():
        raise typer.BadParameter(f"no evaluation split at {directory}", param_hint="--split")
    weights = Weights.from_dict(settings.ranking_weights)
    if thesaurus is None:
        thesaurus = str(settings.starter_thesaurus_path) if settings.thesaurus else "none"
    thesaurus_path = None if thesaurus == "none" else thesaurus
    t2s = settings.embed_to_simplified
    names = [e.strip() for e in (embedders or settings.embedder).split(",") if e.strip()]
    data = load_split(directory)
    evaluator = evaluation.Evaluator(data)
    configs = [evaluation.Config(kind="bm25")] if baselines else []
    for name in names:
        if baselines:
            configs.append(evaluation.Config(kind="dense", embedder=name, to_simplified=t2s))
        served = name == settings.embedder and thesaurus_path == (
            str(settings.starter_thesaurus_path) if settings.thesaurus else None
        )
        label = f"full:{name}{'+t2s' if t2s else ''}{' +thesaurus' if thesaurus_path else ''}"
        configs.append(
            evaluation.Config(kind="full", embedder=name, to_simplified=t2s, weights=weights,
                              thesaurus=thesaurus_path, name=label + (" (= serve)" if served else ""))
        )  # fmt: skip
    reports = []
    for config in configs:
        if config.embedder is not None:
            console.print(f"embedding {data.name} with {config.embedder}{' +t2s' if t2s else ''} ...")
            evaluator.vectors(config.embedder, config.to_simplified)
        with progress_reporter(f"ranking {data.name} ({config.label})", quiet=quiet) as advance:
            evaluator.progress = advance
            reports.append(evaluator.evaluate(config))
    typer.echo(evaluation.format_table(reports))
    for report in reports:
        if report.config.kind != "full":
            continue
        pairs = evaluation.judged_scores(data, report)
        cells = "  ".join(f"{b}: n={v['n']} precision={v['precision']}"
                          for b, v in band_precision(pairs, DEFAULT_BANDS).items())  # fmt: skip
        no_good = sum(1 for n in report.needs if not any(is_good(b) for b in n.bands))
        typer.echo(f"bands of {report.config.label}: {cells}; needs with no 强/可能 pairing: {no_good}")
    if as_json is not None:
        as_json.write_text(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=1), encoding="utf-8")


def learn_weights_command(
    split: Annotated[str, typer.Option(help="evaluation split to compare on (dev: never tune on test)")] = "dev",
    min_each: Annotated[int, typer.Option(min=1, help="fewest accepted and rejected pairings to learn from")] = 10,
) -> None:
    """Learn ranking weights from the managers' decisions and compare them with the current ones on the dev set."""
    from matchmaker.config import project_path
    from matchmaker.search import evaluation
    from matchmaker.search.eval_data import load_split
    from matchmaker.search.ranking import Weights
    from matchmaker.services.learning import learn_weights

    settings = Settings()
    current = Weights.from_dict(settings.ranking_weights)
    engine = db.create_db_engine(settings)
    try:
        with db.unit_of_work(db.create_session_factory(engine)) as session:
            learned = learn_weights(session, current, min_each=min_each)
    except MatchmakerError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()
    console.print(
        f"learned from {learned.accepted} accepted and {learned.rejected} rejected pairings "
        f"(training accuracy {learned.train_accuracy:.2f}); coefficients {learned.coefficients}"
    )
    data = load_split(project_path("data") / "eval" / split)
    configs = [
        evaluation.Config(kind="full", embedder=settings.embedder, weights=current, name="current weights"),
        evaluation.Config(kind="full", embedder=settings.embedder, weights=learned.weights, name="learned weights"),
    ]
    reports = evaluation.compare(data, configs)
    typer.echo(evaluation.format_table(reports))
    better = reports[1].mean("ndcg@10") >= reports[0].mean("ndcg@10")
    changed = {k: v for k, v in learned.weights.as_dict().items() if v != current.as_dict()[k]}
    typer.echo(f"MATCHMAKER_RANKING_WEIGHTS='{json.dumps({**settings.ranking_weights, **changed})}'")
    console.print(
        "the learned weights do at least as well on the dev set: set the line above to adopt them"
        if better
        else "the learned weights do worse on the dev set: keep the current ones"
    )
