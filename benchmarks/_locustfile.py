"""Locust user of benchmarks/http_load.py: a manager asking for a need's matches, with a share of writes.

Configured by environment variables (set by http_load.py):

* BENCH_TOKEN            bearer token (empty: no Authorization header)
* BENCH_DEMAND_IDS       comma-separated need ids to ask matches for
* BENCH_ACHIEVEMENT_IDS  comma-separated achievement ids to PATCH
* BENCH_WRITE_SHARE      share of tasks that write (default 0.1): half PATCH price/TRL, half POST a new achievement
* BENCH_USER_RATE        tasks per second per user (constant throughput); 0: no wait between tasks
* BENCH_WORDS            path of a file of words (one a line) new achievement texts are drawn from
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

from locust import FastHttpUser, constant, constant_throughput, task

TOKEN = os.environ.get("BENCH_TOKEN", "")
DEMANDS = [int(x) for x in os.environ["BENCH_DEMAND_IDS"].split(",") if x]
ACHIEVEMENTS = [int(x) for x in os.environ["BENCH_ACHIEVEMENT_IDS"].split(",") if x]
WRITE_SHARE = float(os.environ.get("BENCH_WRITE_SHARE", "0.1"))
RATE = float(os.environ.get("BENCH_USER_RATE", "0"))
WORDS = [w for w in Path(os.environ["BENCH_WORDS"]).read_text(encoding="utf-8").split() if w]
FIELDS = ("新材料", "新能源", "生物医药", "高端装备", "信创", "集成电路")
_serial = itertools.count(1)
READ_WEIGHT = max(1, round(1000 * (1 - WRITE_SHARE)))
WRITE_WEIGHT = max(0, round(500 * WRITE_SHARE))


class Manager(FastHttpUser):
    """A 技术经理人 working through the need list."""

    wait_time = constant_throughput(RATE) if RATE > 0 else constant(0)

    def on_start(self) -> None:
        self.auth = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}

    @task(READ_WEIGHT)
    def matches(self) -> None:
        demand = random.choice(DEMANDS)
        self.client.get(f"/api/v1/demands/{demand}/matches", headers=self.auth, name="GET /demands/{id}/matches")

    @task(WRITE_WEIGHT)
    def patch_achievement(self) -> None:
        achievement = random.choice(ACHIEVEMENTS)
        body = {"price_wan": random.randint(10, 500), "trl": random.randint(3, 9)}
        self.client.patch(
            f"/api/v1/achievements/{achievement}", json=body, headers=self.auth, name="PATCH /achievements/{id}"
        )

    @task(WRITE_WEIGHT)
    def post_achievement(self) -> None:
        n = next(_serial)
        words = random.sample(WORDS, min(len(WORDS), 40))
        body = {
            "title": f"负载测试成果{os.getpid()}-{n}：" + "".join(words[:4]),
            "summary": "".join(words),
            "keywords": words[:3],
            "field": random.choice(FIELDS),
            "region": random.choice(("北京", "天津", "河北")),
            "trl": random.randint(4, 9),
            "transfer_modes": ["许可"],
            "price_wan": random.randint(20, 300),
        }
        self.client.post("/api/v1/achievements", json=body, headers=self.auth, name="POST /achievements")
