"""A sync loop standing in for Argo CD / Flux: reads the manifests on the applied branch of a (bare) Git
repository and applies each document to a Cluster API management cluster (the emulator) through the official
``kubernetes`` client over HTTP - create when missing, JSON merge patch of the manifest when present (Argo CD
applies with kubectl apply / server-side apply; a merge patch of the whole manifest is the part of that this
test needs: fields in the manifest win, fields only the server has are kept)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException


class SyncLoop:
    def __init__(self, bare: Path, kubeconfig: Path, context: str, *, branch: str = "main", folder: str = "clusters"):
        self.bare, self.branch, self.folder = bare, branch, folder
        api = config.new_client_from_config(config_file=str(kubeconfig), context=context)
        self.custom = client.CustomObjectsApi(api)
        self.applied: list[str] = []          # the commits synced, in order
        self.writes: list[tuple[str, str, str]] = []

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", str(self.bare), *args], capture_output=True, check=True,
                              text=True).stdout

    def sync(self) -> str:
        """Apply the branch's tip; return its sha."""
        sha = self._git("rev-parse", f"refs/heads/{self.branch}").strip()
        if self.applied and self.applied[-1] == sha:
            return sha
        paths = [p for p in self._git("ls-tree", "-r", "--name-only", sha, "--", self.folder).splitlines()
                 if p.endswith((".yaml", ".yml"))]
        docs: list[dict[str, Any]] = []
        for p in paths:
            docs += [d for d in yaml.safe_load_all(self._git("show", f"{sha}:{p}")) if isinstance(d, dict)]
        # templates first (the objects that reference them are refused without them), like Argo CD's sync waves
        docs.sort(key=lambda d: 0 if str(d.get("kind", "")).endswith("Template") else 1)
        for d in docs:
            self._apply(d)
        self.applied.append(sha)
        return sha

    def _apply(self, d: dict[str, Any]) -> None:
        group, _, version = str(d["apiVersion"]).rpartition("/")
        plural = str(d["kind"]).lower() + "s"
        ns, name = d["metadata"].get("namespace", "default"), d["metadata"]["name"]
        try:
            live = self.custom.get_namespaced_custom_object(group, version, ns, plural, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.custom.create_namespaced_custom_object(group, version, ns, plural, d)
            self.writes.append(("create", d["kind"], name))
            return
        if _contains(live, d):
            return                                    # in sync: nothing to write
        self.custom.patch_namespaced_custom_object(group, version, ns, plural, name, d,
                                                   _content_type="application/merge-patch+json")
        self.writes.append(("patch", d["kind"], name))


def _contains(live: Any, want: Any) -> bool:
    if isinstance(want, dict):
        return isinstance(live, dict) and all(_contains(live.get(k), v) for k, v in want.items())
    return bool(live == want)
