"""Helm for the chart checks: built once with ``go install`` from the Go module proxy, cached.

There is no Helm release binary to download here, and Debian ships no helm package; the Go
module proxy serves Helm's source, so ``go install helm.sh/helm/v3/cmd/helm@VERSION`` builds it
(a minute or two the first time, then the cached binary is reused). A ``go install`` build does
not stamp the Kubernetes version Helm reports, so callers pass ``--kube-version`` explicitly.
"""

from __future__ import annotations

from pathlib import Path

from provision.common import CACHE, go_install

__all__ = ["HELM_VERSION", "ensure_helm"]

HELM_VERSION = "v3.21.4"


def ensure_helm(version: str = HELM_VERSION) -> Path:
    """The path of a helm binary of ``version``, building it on first use."""
    return go_install(f"helm.sh/helm/v3/cmd/helm@{version}", CACHE / "helm" / version)


if __name__ == "__main__":
    print(ensure_helm())
