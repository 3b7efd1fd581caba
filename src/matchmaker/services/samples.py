"""The bundled sample data, loaded into an empty database for the embedded demo: the supply and demand lists (with
application scenarios), the landing resources, and a few pairings followed to 签约 and 落地 with their contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaker.config import Settings, project_path
from matchmaker.kinds import SPECS
from matchmaker.models import Achievement, Demand, Match
from matchmaker.schemas.landing import ContractCreate, LandingCreate
from matchmaker.services import contracts, workflow
from matchmaker.services.readers import parse_file
from matchmaker.services.records import count_records
from matchmaker.services.resources import import_resources, parse_resources
from matchmaker.services.transfer import import_rows

SAMPLE_PAIRING = {"sentence": "样例数据：技术经理人登记的对接，用于演示签约与落地"}


def sample_dir(settings: Settings) -> Path:
    """Where the sample lists are."""
    return settings.sample_data_dir or project_path("data") / "sample"


def load_samples(session: Session, settings: Settings) -> dict[str, int]:
    """Upsert both sample lists (by external_id), then their demo copies (``<list>-copies.jsonl``: the same records
    from other centres, in Traditional or English; the import links them as duplicate candidates); returns how many
    records each list created, and the sample challenges."""
    directory = sample_dir(settings)
    created: dict[str, int] = {}
    for kind, spec in SPECS.items():
        path = directory / f"{kind}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"sample list {path} is missing")
        created[kind] = 0
        for part in (path, directory / f"{kind}-copies.jsonl"):
            if part == path or part.exists():
                parsed = parse_file(spec, part.read_bytes(), "jsonl", max_rows=1_000_000)
                report = import_rows(session, spec, parsed, filename=f"sample/{part.name}", fmt="jsonl", atomic=True)
                created[kind] += report.created
    resources = directory / "resources.jsonl"
    if resources.exists():
        rows = parse_resources(resources.read_bytes(), "jsonl", max_rows=100_000)
        created["resources"] = import_resources(session, rows, atomic=True).created
    landing = directory / "landing.jsonl"
    if landing.exists():
        created["landed_pairings"] = load_pairings(session, landing)
    from matchmaker.services.challenge_samples import load_sample_challenges

    created["challenges"] = load_sample_challenges(session, directory / "challenges.json")
    return created


def load_pairings(session: Session, path: Path) -> int:
    """Follow each sample pairing through the workflow to 签约, record its contracts and, where given, its landing
    (so the sample holds the history, contracts and carriers the targets and the report count); a pairing already
    there is left as it is; returns how many landed."""
    landed = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        item: dict[str, Any] = json.loads(line)
        achievement_id = session.scalar(select(Achievement.id).where(Achievement.external_id == item["achievement"]))
        demand_id = session.scalar(select(Demand.id).where(Demand.external_id == item["demand"]))
        if achievement_id is None or demand_id is None:
            raise ValueError(f"sample pairing {item['demand']} × {item['achievement']}: record missing")
        if session.scalar(select(Match.id).where(Match.demand_id == demand_id, Match.achievement_id == achievement_id)):
            continue  # loaded before (the demo command runs again): the pairing keeps its history
        match = Match(demand_id=demand_id, achievement_id=achievement_id, rank=1, score=0.0, explanation=SAMPLE_PAIRING)
        session.add(match)
        session.flush()
        for stage in ("shortlisted", "contacted", "meeting", "signed"):
            workflow.update_match(session, match.id, {"status": stage}, None)
        for contract in item["contracts"]:
            contracts.create_contract(session, match.id, ContractCreate.model_validate(contract), None)
        if item.get("landing"):
            contracts.record_landing(session, match.id, LandingCreate.model_validate(item["landing"]), None)
            landed += 1
    return landed


def load_samples_if_empty(session: Session, settings: Settings) -> dict[str, int]:
    """Load the sample lists only into a database that has no record yet (first start)."""
    if any(count_records(session, spec) for spec in SPECS.values()):
        return {}
    return load_samples(session, settings)
