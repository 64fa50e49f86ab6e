"""deploy/kubernetes/ as Kubernetes reads it: every built-in resource valid (strict: no
unknown field) against the API's schema (kubernetes-validate, offline), and what the
deployment promises: two replicas per service, probes on /readyz and /healthz, a
disruption budget for each, every broker node given, no secret in a manifest.

The operators' resources (RabbitmqCluster, CloudNativePG's Cluster) have no schema here:
``kubectl apply --dry-run=server -f deploy/kubernetes/`` checks them on a cluster with the
operators installed (docs/deploy.md, "Kubernetes").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.directories import REPO_ROOT

MANIFESTS = REPO_ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.31"
OPERATED = {("rabbitmq.com/v1beta1", "RabbitmqCluster"), ("postgresql.cnpg.io/v1", "Cluster")}
SERVICES = ("ingest", "router", "notifier")


def resources() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, document)
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document
    ]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for _, r in resources() if r["kind"] == kind}


@pytest.mark.parametrize(
    "resource",
    [r for _, r in resources() if (r["apiVersion"], r["kind"]) not in OPERATED],
    ids=lambda r: f"{r['kind']}/{r['metadata']['name']}",
)
def test_each_resource_is_valid_kubernetes(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES, strict=True)


def test_a_typo_is_caught() -> None:
    # The check itself: a field Kubernetes does not know fails, as in the manifests.
    deployment = dict(by_kind("Deployment")["coord-ingest"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_operated_cluster_and_database_have_three_members() -> None:
    kinds = {(r["apiVersion"], r["kind"]): r for _, r in resources()}
    assert set(kinds) >= OPERATED
    assert kinds["rabbitmq.com/v1beta1", "RabbitmqCluster"]["spec"]["replicas"] == 3
    assert kinds["postgresql.cnpg.io/v1", "Cluster"]["spec"]["instances"] == 3


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_twice_behind_its_probes_and_budget(service: str) -> None:
    deployment = by_kind("Deployment")[f"coord-{service}"]
    assert deployment["spec"]["replicas"] == 2
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["run", service]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    budget = by_kind("PodDisruptionBudget")[f"coord-{service}"]
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    env = {e["name"]: e for e in container["env"]}
    nodes = env["COORD_AMQP_URLS"]["value"].split(",")
    assert [n.split("@")[1].split(".")[0] for n in nodes] == [
        f"coord-rabbitmq-server-{i}" for i in range(3)
    ]


def test_no_secret_is_written_in_a_manifest() -> None:
    assert by_kind("Secret") == {}
    settings = by_kind("ConfigMap")["coord-settings"]["data"]
    assert settings["COORD_ENV"] == "production"  # the services refuse missing secrets
    assert not any("SECRET" in key or "KEYS" in key for key in settings)
