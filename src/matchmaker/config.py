"""Settings, read from the environment (prefix MATCHMAKER_) or a .env file; nothing is built at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Service configuration. Every field is documented in README.md ("Configuration")."""

    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Directory for the embedded SQLite database and indexes.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite:///<data_dir>/matchmaker.db. PostgreSQL: postgresql+psycopg://...",
    )
    auto_migrate: bool = Field(default=True, description="Run Alembic migrations to head when the service starts.")
    load_sample_data: bool = Field(
        default=True, description="On start, load the bundled sample lists into an empty database."
    )
    sample_data_dir: Path | None = Field(default=None, description="Where the sample lists are (default: data/sample).")
    migrations_dir: Path | None = Field(default=None, description="Alembic script directory (default: migrations/).")
    max_upload_mb: float = Field(default=20.0, gt=0, description="Largest accepted import file, in MiB.")
    max_contract_file_mb: float = Field(
        default=10.0, gt=0, description="Largest accepted contract file (PDF, PNG, JPEG, DOCX), in MiB."
    )
    max_import_rows: int = Field(default=50_000, gt=0, description="Most rows accepted in one import file.")
    max_body_kb: int = Field(
        default=1024, ge=1, description="Largest accepted request body other than an import upload, in KiB."
    )
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="A request body not received in full within this many seconds answers 408."
    )
    db_pool_size: int = Field(default=5, ge=1, description="Connection pool size (PostgreSQL).")
    log_level: str = Field(default="info", description="Log level of the service.")
    embedder: str = Field(
        default="use",
        description="Embedding model: use (USE multilingual v3), e5-small (multilingual-e5-small 4-bit), "
        "use+e5-small (both, concatenated), or st:<local path or hub id> (sentence-transformers, offline).",
    )
    embedder_device: str = Field(default="cpu", description="Device of a sentence-transformers model (cpu, cuda).")
    embed_batch_size: int = Field(default=32, ge=1, description="Texts per model call when embedding.")
    embed_to_simplified: bool = Field(
        default=True, description="Convert Traditional to Simplified before embedding (measured: +0.03 nDCG@10 on dev)."
    )
    index_kind: str = Field(
        default="auto",
        pattern="^(auto|flat|hnsw|ivf)$",
        description="FAISS index: auto (exact below hnsw_threshold, HNSW above), flat, hnsw, ivf.",
    )
    hnsw_threshold: int = Field(default=20_000, ge=1, description="Records from which auto switches to HNSW.")
    hnsw_ef_search: int = Field(
        default=64, ge=1, description="HNSW efSearch: higher finds more of the true nearest records, more slowly."
    )
    sync_interval_s: float = Field(default=0.5, gt=0, description="How often each worker follows the change log.")
    snapshot_interval_s: float = Field(default=300.0, gt=0, description="How often changed indexes are saved.")
    faiss_threads: int = Field(default=1, ge=1, description="OpenMP threads per FAISS call (× server threads ≤ cores).")
    worker_healthcheck_timeout_s: int = Field(
        default=60,
        ge=1,
        description="How long `serve --workers N` waits for a busy worker's health-check answer before killing it.",
    )
    request_concurrency: int = Field(
        default=4, ge=1, description="API requests each worker process handles at once (more wait their turn)."
    )
    ranking_weights: dict[str, float] = Field(
        default_factory=dict, description='Overrides of the ranking weights, JSON, e.g. {"lexical": 0.4}.'
    )
    reranker: Path | None = Field(
        default=None, description="Local folder of a CrossEncoder that re-scores the top candidates."
    )
    reranker_top_n: int = Field(default=20, ge=1, le=200, description="How many top candidates the reranker re-scores.")
    reranker_weight: float = Field(default=0.5, ge=0, description="Weight of the reranker's probability in the score.")
    admin_email: str = Field(default="admin@localhost", description="Email of the admin created on first start.")
    admin_password: str | None = Field(
        default=None, description="Password of that admin; unset: a random one is generated and printed once."
    )
    login_limit_per_account: str = Field(
        default="10 per 15 minutes", description="Failed logins one account may have (then 429 until the window frees)."
    )
    login_limit_per_address: str = Field(
        default="30 per 15 minutes", description="Failed logins one client address may have, over all accounts."
    )
    metrics_token: str | None = Field(
        default=None, description="When set, /metrics answers only requests with 'Authorization: Bearer <this>'."
    )
    metrics_counts_interval_s: float = Field(
        default=60.0, ge=0, description="/metrics recounts the records at most this often (0: never counts)."
    )
    search_enabled: bool = Field(default=True, description="Build the matcher on start (off: lists only).")
    thesaurus: bool = Field(default=True, description="Rank with the managers' concept thesaurus (off: words only).")
    thesaurus_starter: Path | None = Field(
        default=None,
        description="Thesaurus file that seeds an empty thesaurus (default: data/thesaurus/starter.jsonl).",
    )
    band_thresholds: dict[str, float] = Field(
        default_factory=dict, description='Overrides of the confidence-band thresholds, JSON: {"strong": 0.8, ...}.'
    )

    @property
    def starter_thesaurus_path(self) -> Path:
        """The thesaurus file that seeds an empty thesaurus."""
        return self.thesaurus_starter or project_path("data") / "thesaurus" / "starter.jsonl"

    stale_need_after_days: int = Field(
        default=183, ge=1, description="A need not updated for this many days (or past its deadline) is stale."
    )
    stale_achievement_after_days: int = Field(
        default=365, ge=1, description="An achievement not updated for this many days is stale."
    )
    stale_grace_days: int = Field(
        default=30, ge=0, description="Days a stale record's owner has to confirm it before it is closed."
    )
    stale_check_interval_s: float = Field(
        default=3600.0, ge=0, description="How often the stale-listing job runs in each process (0: never)."
    )
    run_workers: int = Field(
        default=0, ge=0, description="Processes a matching run ranks on in-process (0: every core of the machine)."
    )
    run_chunk_size: int = Field(default=128, ge=1, le=10_000, description="Needs per chunk of a matching run.")
    job_stale_after_s: float = Field(
        default=60.0, gt=0, description="A job with no sign of life for this long is resumed by another executor."
    )
    job_broker: str | None = Field(
        default=None,
        description="Broker URL (redis://host:port/db) of the distributed job engine (Dramatiq); unset: in-process.",
    )
    job_queue: str = Field(
        default="matchmaker", pattern=r"^[a-z0-9_-]{1,40}$", description="Queue (and key prefix) on the broker."
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use (the embedded SQLite file when none is configured)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'matchmaker.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        """Where index snapshots are written."""
        return self.data_dir / "index"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.resolved_database_url.startswith("sqlite")

    @property
    def max_upload_bytes(self) -> int:
        """Largest accepted import file, in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


def project_path(name: str) -> Path:
    """A top-level project folder (migrations, data): next to the source tree, else in the working directory."""
    source_root = Path(__file__).resolve().parents[2]
    for candidate in (source_root / name, Path.cwd() / name):
        if candidate.exists():
            return candidate
    return source_root / name
