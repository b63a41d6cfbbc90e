"""Webhook bodies, computed from one row of the events table: plain JSON, or a Slack-compatible message.

Pure functions of the event; the body bytes are what gets signed. The JSON shape (stable)::

    {"id": 42, "kind": "cluster-upgraded", "at": "2026-01-05T10:00:00Z", "fleet": "prod",
     "actor": "engine", "run": "...", "cluster": "eks/lab/c0", "step": null, "operation": null,
     "message": "at 1.30.4", "data": {}, "summary": "Cluster eks/lab/c0 upgraded: at 1.30.4"}

``id`` is the event id: the same event is always sent with the same id, so receivers de-duplicate on it
(delivery is at least once).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fleet.clock import iso

_TITLES = {
    "run-started": ("Run started", ":arrow_forward:"),
    "wave-done": ("Wave done", ":white_check_mark:"),
    "cluster-upgraded": ("Cluster upgraded", ":large_green_circle:"),
    "cluster-failed": ("Cluster failed", ":red_circle:"),
    "run-halted": ("Run halted", ":octagonal_sign:"),
    "run-done": ("Run finished", ":checkered_flag:"),
    "cluster-at-risk": ("Cluster entered the risk list", ":warning:"),
    "wave-awaiting-approval": ("Wave waits for approval", ":raised_hand:"),
}


def compute_summary(event: Mapping[str, Any]) -> str:
    kind, run, cluster = event["kind"], event.get("run_id"), event.get("cluster_id")
    msg = (event.get("message") or "").strip()
    tail = f": {msg}" if msg else ""
    if kind == "run-started":
        return f"Run {run} started{tail}"
    if kind == "wave-done":
        return f"Run {run}: {msg or 'wave complete'}"
    if kind == "cluster-upgraded":
        return f"Cluster {cluster} upgraded{tail}"
    if kind == "cluster-failed":
        return f"Cluster {cluster} failed in run {run}{tail}"
    if kind == "run-halted":
        return f"Run {run} halted{tail}"
    if kind == "run-done":
        return f"Run {run} finished{tail}"
    if kind == "cluster-at-risk":
        return f"Cluster {cluster} entered the risk list{tail}"
    if kind == "wave-awaiting-approval":
        return f"Run {run}: {msg or 'a wave waits for approval'}"
    return f"{kind}{tail}"


def compute_json_payload(event: Mapping[str, Any], fleet: str) -> dict[str, Any]:
    at = event["at"]
    return {
        "id": event["id"], "kind": event["kind"], "at": iso(at) if isinstance(at, datetime) else at,
        "fleet": fleet, "actor": event.get("actor"), "run": event.get("run_id"),
        "cluster": event.get("cluster_id"), "step": event.get("step_key"), "operation": event.get("operation_id"),
        "message": event.get("message") or "", "data": event.get("data") or {},
        "summary": compute_summary(event),
    }


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters: &, < and > must be sent as HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def compute_slack_payload(event: Mapping[str, Any], fleet: str) -> dict[str, Any]:
    """``{"text": ..., "blocks": [...]}`` for Slack incoming webhooks (``text`` is the notification
    fallback; the blocks are a section with the summary, the run/cluster fields, and a context line)."""
    title, emoji = _TITLES.get(event["kind"], (event["kind"], ":information_source:"))
    summary = compute_summary(event)
    at = event["at"]
    when = iso(at) if isinstance(at, datetime) else str(at)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} *{slack_escape(title)}*\n{slack_escape(summary)}"}},
    ]
    fields = [f"*{label}:*\n`{slack_escape(str(value))}`"
              for label, value in (("Run", event.get("run_id")), ("Cluster", event.get("cluster_id"))) if value]
    if fields:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": slack_escape(f"fleet {fleet} · {when} · event {event['id']}")}]})
    return {"text": f"[{fleet}] {summary}", "blocks": blocks}


def render_body(event: Mapping[str, Any], fmt: str, fleet: str) -> bytes:
    payload = compute_slack_payload(event, fleet) if fmt == "slack" else compute_json_payload(event, fleet)
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")
