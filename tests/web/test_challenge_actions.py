"""The challenge page's forms over the test app (both backends): the rubric (a problem beside its cell, a criterion
removed by clearing its name), an illegal move answered beside the stage with the allowed ones, an expert's
declaration of conflicts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.challenge_factories import challenge
from tests.web.conftest import csrf_of, web_sign_in


def test_rubric_moves_and_declaration(
    client: TestClient, web_client: TestClient, web_account: Callable[..., str]
) -> None:
    created = client.post("/api/v1/challenges", json=challenge(external_id=f"JB-A-{uuid.uuid4().hex[:6]}")).json()
    url = f"/challenges/{created['id']}"
    web_sign_in(web_client, web_account("manager"))
    token = csrf_of(web_client.get(url).text)
    rubric = {
        "csrf_token": token,
        "rubric[0].name": "技术方案", "rubric[0].weight": "60", "rubric[0].description": "可行、先进",
        "rubric[1].name": "", "rubric[1].weight": "25",  # cleared: removed
        "rubric[2].name": "团队实力", "rubric[2].weight": "0",
    }  # fmt: skip
    refused = web_client.post(f"{url}/rubric", data=rubric)
    assert refused.status_code == 422
    assert 'id="rubric[1].weight-error" role="alert">不能小于 1<' in refused.text  # the second row kept
    saved = web_client.post(f"{url}/rubric", data={**rubric, "rubric[2].weight": "40"}, follow_redirects=False)
    assert saved.status_code == 303
    assert [(c["name"], c["weight"]) for c in client.get(f"/api/v1{url}").json()["rubric"]] == [
        ("技术方案", 60),
        ("团队实力", 40),
    ]
    # Publishing a draft straight away is not a move it allows: said beside the stage, with the allowed ones.
    illegal = web_client.post(f"{url}/moves", data={"csrf_token": token, "to": "published"})
    assert illegal.status_code == 422
    assert "allowed: vetting, withdrawn" in illegal.text

    # An expert assigned by the manager declares the organisations they must not score.
    expert = web_account("expert", "天津中心专家库")
    page = web_client.get(url).text
    option = page.split(f">{expert}")[0].rsplit('value="', 1)[1].split('"')[0]
    assert web_client.post(f"{url}/experts", data={"csrf_token": token, "user_id": option}).status_code == 200
    other = TestClient(web_client.app, base_url="http://testserver")  # type: ignore[arg-type]
    web_sign_in(other, expert)
    declared = other.post(
        f"{url}/declaration", data={"csrf_token": csrf_of(other.get(url).text), "conflicts": "北方理工大学、燕山大学"}
    )
    assert declared.status_code == 200
    assert 'value="北方理工大学、燕山大学"' in declared.text
    assert client.get(f"/api/v1/challenges/{created['id']}/experts").json()["items"][0]["conflicts"] == [
        "北方理工大学",
        "燕山大学",
    ]
