"""Command line of the distributed job engine: `matchmaker worker`."""

from __future__ import annotations

from typing import Annotated

import typer

from matchmaker.config import Settings


def worker(
    processes: Annotated[int, typer.Option(min=0, help="worker processes (0: the usable cores)")] = 0,
) -> None:
    """Take jobs (matching-run chunks) from the broker named by MATCHMAKER_JOB_BROKER, until stopped."""
    from matchmaker.services.chunk_pool import default_workers

    if not Settings().job_broker:
        raise typer.BadParameter("set MATCHMAKER_JOB_BROKER (e.g. redis://127.0.0.1:6379/0) first")
    from matchmaker.services.job_broker import worker_main

    worker_main(processes or default_workers())
