"""The bundled sample supply and demand lists, loaded into an empty database for the embedded demo."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from matchmaker.config import Settings, project_path
from matchmaker.kinds import SPECS
from matchmaker.services.readers import parse_file
from matchmaker.services.records import count_records
from matchmaker.services.transfer import import_rows


def sample_dir(settings: Settings) -> Path:
    """Where the sample lists are."""
    return settings.sample_data_dir or project_path("data") / "sample"


def load_samples(session: Session, settings: Settings) -> dict[str, int]:
    """Upsert both sample lists (by external_id); returns how many records each created."""
    directory = sample_dir(settings)
    created: dict[str, int] = {}
    for kind, spec in SPECS.items():
        path = directory / f"{kind}.jsonl"
        if not path.exists():
            raise FileNotFoundError(f"sample list {path} is missing")
        parsed = parse_file(spec, path.read_bytes(), "jsonl", max_rows=1_000_000)
        report = import_rows(session, spec, parsed, filename=f"sample/{path.name}", fmt="jsonl", atomic=True)
        created[kind] = report.created
    return created


def load_samples_if_empty(session: Session, settings: Settings) -> dict[str, int]:
    """Load the sample lists only into a database that has no record yet (first start)."""
    if any(count_records(session, spec) for spec in SPECS.values()):
        return {}
    return load_samples(session, settings)
