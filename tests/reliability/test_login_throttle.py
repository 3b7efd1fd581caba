"""Item 10: failed logins are throttled per account and per address; a wrong email costs what a wrong password does."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import httpx

from matchmaker.services import auth


def _login(base: str, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/auth/login", json={"email": email, "password": password})


def test_an_account_is_locked_after_its_failed_logins(live_server: Callable[..., str]) -> None:
    base = live_server(login_limit_per_account="5 per 15 minutes", login_limit_per_address="100 per 15 minutes")
    for _ in range(5):
        assert _login(base, "admin@localhost", "guess").status_code == 401
    locked = _login(base, "admin@localhost", "admin-password-1")  # the right password, too late
    assert locked.status_code == 429
    assert locked.json()["error"] == "too_many_requests"
    assert int(locked.headers["retry-after"]) > 800


def test_an_address_is_throttled_over_all_accounts(live_server: Callable[..., str]) -> None:
    base = live_server(login_limit_per_account="100 per 15 minutes", login_limit_per_address="4 per 15 minutes")
    for i in range(4):
        assert _login(base, f"nobody{i}@x.example", "guess").status_code == 401
    assert _login(base, "someone-else@x.example", "guess").status_code == 429
    assert _login(base, "admin@localhost", "admin-password-1").status_code == 429


def test_success_is_not_counted(live_server: Callable[..., str]) -> None:
    base = live_server(login_limit_per_account="3 per 15 minutes")
    for _ in range(6):
        assert _login(base, "admin@localhost", "admin-password-1").status_code == 200


def test_a_wrong_email_runs_the_same_password_check_as_a_wrong_password(live_server: Callable[..., str]) -> None:
    base = live_server()
    with mock.patch.object(auth, "verify_password", wraps=auth.verify_password) as verify:
        assert _login(base, "no-such-user@x.example", "guess").status_code == 401
        assert verify.call_count == 1  # an argon2 verification, as for a wrong password
        assert verify.call_args.args[0].startswith("$argon2")
        assert _login(base, "admin@localhost", "guess").status_code == 401
        assert verify.call_count == 2
