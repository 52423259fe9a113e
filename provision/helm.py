"""Helm for the chart checks: built once with ``go install`` from the Go module proxy, cached.

There is no Helm release binary to download here, and Debian ships no helm package; the Go
module proxy serves Helm's source, so ``go install helm.sh/helm/v3/cmd/helm@VERSION`` builds it
(a minute or two the first time, then the cached binary is reused). A ``go install`` build does
not stamp the Kubernetes version Helm reports, so callers pass ``--kube-version`` explicitly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from provision.common import CACHE

__all__ = ["HELM_VERSION", "ensure_helm"]

HELM_VERSION = "v3.21.4"


def _go() -> str:
    for cand in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if cand and Path(cand).exists():
            return cand
    raise RuntimeError("Go is needed to build helm (go install); install the golang toolchain")


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """The path of a helm binary of ``version``, building it on first use."""
    root = CACHE / "helm" / version
    binary = root / "bin" / "helm"
    if binary.exists():
        return binary
    env = dict(os.environ)
    env.update(
        GOBIN=str(root / "bin"),
        GOPATH=str(CACHE / "go"),
        GOMODCACHE=str(CACHE / "go" / "pkg" / "mod"),
        GOFLAGS="-mod=mod",
        CGO_ENABLED="0",
    )
    subprocess.run(
        [_go(), "install", f"helm.sh/helm/v3/cmd/helm@{version}"],
        check=True,
        env=env,
        timeout=1800,
    )
    return binary


if __name__ == "__main__":
    print(ensure_helm())
