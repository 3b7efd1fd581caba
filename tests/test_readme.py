"""README stays true: every setting is in its configuration table, every curl names a real route with parameters it
takes, and the two set-up commands are there."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from matchmaker.app import create_app
from matchmaker.config import Settings
from matchmaker.domain import ACHIEVEMENT_LABELS, DEMAND_LABELS, HEADER_EXAMPLES, RESOURCE_LABELS, accepted_headers

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
        candidates = [t for t in paths if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", t), path)]
        # A literal route (/concepts/learn) wins over a templated one (/concepts/{link_id}), as in the router.
        template = next((t for t in candidates if method in paths[t]), candidates[0] if candidates else None)
        if template is None or method not in paths[template]:
            problems.append(f"{method.upper()} {path}: no such route")
            continue
        known = {p["name"] for p in paths[template][method].get("parameters", []) if p["in"] == "query"}
        if params - known:
            problems.append(f"{method.upper()} {path}: unknown parameter(s) {sorted(params - known)}")
    assert problems == []


HEADER_LISTS = {
    "科技成果 (achievements)": ACHIEVEMENT_LABELS,
    "技术需求 (demands)": DEMAND_LABELS,
    "载体与资源 (resources)": RESOURCE_LABELS,
}


def header_table(labels: dict[str, str]) -> list[str]:
    """README's table of the headers one list accepts, built from the one place the aliases live."""
    lines = ["| field | unit | accepted headers (Chinese and English) | example |", "| --- | --- | --- | --- |"]
    for name, spellings in accepted_headers(labels).items():
        unit = labels[name].split("(", 1)[1].rstrip(")") if "(" in labels[name] else ""
        shown = " · ".join(f"`{s}`" for s in spellings)
        lines.append(f"| `{name}` | {unit} | {shown} | {HEADER_EXAMPLES.get(name, '')} |")
    return lines


def test_readme_lists_every_accepted_header() -> None:
    for title, labels in HEADER_LISTS.items():
        table = "\n".join(header_table(labels))
        assert f"**{title}**\n\n{table}\n" in README, f"regenerate {title}: python -m tests.test_readme"


if __name__ == "__main__":  # print the README section
    for title, labels in HEADER_LISTS.items():
        print(f"**{title}**\n\n" + "\n".join(header_table(labels)) + "\n")
