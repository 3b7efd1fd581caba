"""README stays true: every setting is in its configuration table, every curl names a real route with parameters it
takes, and the two set-up commands are there."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from matchmaker.app import create_app
from matchmaker.config import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [name for name in Settings.model_fields if f"`MATCHMAKER_{name.upper()}`" not in README]
    assert missing == []


def test_two_setup_commands() -> None:
    assert "./dev.sh serve" in README
    assert "./dev.sh test" in README


def _curl_calls() -> list[tuple[str, str, set[str]]]:
    """(method, path, query parameter names) of every curl command in the README."""
    calls = []
    for command in re.findall(r"curl [^\n]*", README):
        url = re.search(r"localhost:8000(/[^\s'\"]*)", command)
        if url is None:
            continue
        parts = urlsplit(url.group(1))
        method = re.search(r"-X (\w+)", command)
        verb = method.group(1) if method else ("POST" if " -F " in command or " -d " in command else "GET")
        calls.append((verb.lower(), parts.path, set(parse_qs(parts.query))))
    return calls


def test_every_curl_route_and_parameter_exists() -> None:
    """Each README curl names a route of the OpenAPI document, with the method and query parameters it takes."""
    paths = create_app(Settings(load_sample_data=False)).openapi()["paths"]
    app_routes = {"/healthz", "/readyz", "/metrics"}  # not in the documented API
    calls = _curl_calls()
    assert len(calls) >= 15
    problems = []
    for method, path, params in calls:
        if path in app_routes:
            continue
        template = next((t for t in paths if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", t), path)), None)
        if template is None or method not in paths[template]:
            problems.append(f"{method.upper()} {path}: no such route")
            continue
        known = {p["name"] for p in paths[template][method].get("parameters", []) if p["in"] == "query"}
        if params - known:
            problems.append(f"{method.upper()} {path}: unknown parameter(s) {sorted(params - known)}")
    assert problems == []
