"""The kops emulator's invocation context (``Ctx``): flags and environment of one ``kops`` process, its state
store, its notion of now, and the one-shot CLI faults the test harness queued."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from providers.kops.emulator.flags import KopsError
from providers.kops.emulator.state import KOPS_VERSION, Layout, S3Mini, Store, parse_time

# ---- context ----------------------------------------------------------------------------------------

_CLI_FAULTS = {"throttle": (503, "SlowDown", "Please reduce your request rate."),
               "server-error": (500, "InternalError", "We encountered an internal error. Please try again."),
               "forbidden": (403, "AccessDenied", "Access Denied"),
               "not-found": (404, "NoSuchBucket", "The specified bucket does not exist")}


def _scaled_now(scale: str, epoch: str) -> Callable[[], datetime]:
    """Wall time sped up ``scale`` times from ``epoch``: every kops process computes the same now."""
    from fleet.clock import SystemClock
    try:
        factor, start = float(scale), parse_time(epoch)
    except ValueError as exc:
        raise KopsError(f"FLEET_EMULATOR_SCALE/FLEET_EMULATOR_EPOCH: {exc}") from exc
    if factor <= 0 or start.tzinfo is None:
        raise KopsError("FLEET_EMULATOR_SCALE must be > 0 and FLEET_EMULATOR_EPOCH carry a time zone")
    wall = SystemClock()
    return lambda: start + (wall.now() - start) * factor


class Ctx:
    def __init__(self, env: dict[str, str], flags: dict[str, Any], kops_version: str = KOPS_VERSION):
        self.env, self.flags, self.kops_version = env, flags, kops_version
        state = flags.get("state") or env.get("KOPS_STATE_STORE", "")
        if not state:
            raise KopsError("please set the --state flag or export KOPS_STATE_STORE.\nFor example, a valid value "
                            "follows the format s3://<bucket>.\nTrailing slash will be trimmed.")
        endpoint = env.get("S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        if not endpoint:
            raise KopsError("the kops emulator needs S3_ENDPOINT or AWS_ENDPOINT_URL_S3 (it only talks to an "
                            "S3 emulator)")
        self.state = state.rstrip("/")
        try:
            self.store = Store(S3Mini(endpoint), Layout.parse(self.state))
        except ValueError as exc:
            raise KopsError(str(exc)) from exc
        fixed = env.get("FLEET_EMULATOR_NOW")
        if fixed:
            pinned = parse_time(fixed)
            self.now_fn: Callable[[], datetime] = lambda: pinned
        else:
            from fleet.clock import SystemClock
            self.now_fn = SystemClock().now
            if env.get("FLEET_EMULATOR_SCALE"):
                self.now_fn = _scaled_now(env["FLEET_EMULATOR_SCALE"], env.get("FLEET_EMULATOR_EPOCH", ""))
        self.now = self.now_fn()
        self.virtual = bool(fixed)

    def cluster_name(self, args: list[str], allow_positional: bool = True) -> str:
        flag = self.flags.get("name") or ""
        if allow_positional and args:
            if len(args) > 1:
                raise KopsError("Can only edit one cluster at a time!")
            if flag and flag != args[0]:
                raise KopsError("Cannot specify cluster via --name and positional argument")
            return args[0]
        name = flag or self.env.get("KOPS_CLUSTER_NAME", "")
        if not name:
            raise KopsError("--name is required")
        return name

    def cluster(self, name: str) -> dict[str, Any]:
        obj = self.store.cluster(name)
        if obj is None:
            raise KopsError(f'cluster "{name}" not found')
        return obj

    def take_fault(self, cluster: str) -> None:
        g = self.store.globals()
        if not g.get("cli_faults"):
            return
        fault = g["cli_faults"].pop(0)
        self.store.put_globals(g)
        if fault == "timeout":
            time.sleep(float(self.env.get("FLEET_EMULATOR_HANG", "30")))
            return
        status, code, message = _CLI_FAULTS.get(fault, _CLI_FAULTS["server-error"])
        raise KopsError(f"error reading cluster configuration: error reading {self.state}/{cluster}/config: "
                        f"operation error S3: GetObject, https response error StatusCode: {status}, "
                        f"RequestID: 0EMULATOR0, HostID: emulator, api error {code}: {message}")
