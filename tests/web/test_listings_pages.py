"""The duplicates and stale pages: who may open them, and a bad list name answered as a page (both backends)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.web.conftest import web_sign_in


def test_managers_review_duplicates_others_may_not(web_client: TestClient, web_account: Callable[..., str]) -> None:
    web_sign_in(web_client, web_account("enterprise", "渤海精细化工有限公司"))
    assert web_client.get("/duplicates").status_code == 403
    assert web_client.get("/stale").status_code == 200  # its own stale needs: the prompt
    other = TestClient(web_client.app, base_url="http://testserver")  # type: ignore[arg-type]
    web_sign_in(other, web_account("manager"))
    page = other.get("/duplicates?kind=demands")
    assert page.status_code == 200
    assert "共 0 组疑似重复" in page.text
    assert other.get("/duplicates?kind=matches").status_code == 422
    assert "没有待确认的条目" in other.get("/stale?kind=achievements").text
