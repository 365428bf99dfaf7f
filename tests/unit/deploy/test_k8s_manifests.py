"""Kubernetes manifests (deploy/k8s): every process deployed with probes, resources, a PDB and an
HPA; keys only as placeholders; Kafka and MongoDB by their operators; the topic catalogue equal to
shared/topics.py; every object valid against Kubernetes' schemas (kubeconform -strict), and an
invalid object refused.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from shared.settings import CommonSettings
from shared.topics import CATALOGUE

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
PROCESSES = {"intake": 8001, "legal": 8002, "alerts": 8003, "console": 8004, "reports": 8005, "processor": 6066}


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("centinela_k8s_validate", K8S / "validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


def docs(*paths: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in paths:
        out += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
    return out


BASE = docs(*sorted((K8S / "base").glob("*.yaml")))


def objects(kind: str, source: list[dict[str, Any]] = BASE) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in source if d.get("kind") == kind}


def test_every_process_has_a_deployment_service_pdb_and_hpa() -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert set(objects(kind)) == set(PROCESSES), kind
    listed = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["resources"]
    assert {f"{p}.yaml" for p in PROCESSES} <= set(listed)


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_probes_resources_and_ports(name: str) -> None:
    deployment = objects("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port = PROCESSES[name]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert str(port) in container["command"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert objects("PodDisruptionBudget")[name]["spec"]["selector"]["matchLabels"] == selector
    assert objects("Service")[name]["spec"]["selector"] == selector
    assert objects("HorizontalPodAutoscaler")[name]["spec"]["scaleTargetRef"]["name"] == name


def test_processor_scales_up_to_the_partition_count() -> None:
    config = objects("ConfigMap")["centinela-config"]["data"]
    partitions = int(config["CENTINELA_PARTITIONS"])
    assert partitions == CommonSettings().partitions
    assert objects("HorizontalPodAutoscaler")["processor"]["spec"]["maxReplicas"] == partitions
    for name in PROCESSES:
        assert objects("HorizontalPodAutoscaler")[name]["spec"]["minReplicas"] >= 2


def test_keys_come_from_secrets_and_are_only_placeholders() -> None:
    secret = objects("Secret")["centinela-keys"]["stringData"]
    assert all(value.startswith("REPLACE-ME") for value in secret.values())
    used: set[str] = set()
    for deployment in objects("Deployment").values():
        for env in deployment["spec"]["template"]["spec"]["containers"][0].get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == "centinela-keys":
                assert ref["key"] in secret, env["name"]
                used.add(env["name"])
            assert "value" not in env or "SECRET" not in env["name"] and "KEY" not in env["name"], env["name"]
    assert {"CENTINELA_JWT_SECRET", "CENTINELA_IDENTITY_KEYS", "CENTINELA_PERSON_REF_KEY"} <= used
    config = objects("ConfigMap")["centinela-config"]["data"]
    assert config["CENTINELA_ENV"] == "prod"  # dev secrets refused at start-up


def test_kafka_and_mongodb_are_run_by_their_operators() -> None:
    infra = docs(*sorted((K8S / "infra").glob("*.yaml")))
    kinds = {d["kind"]: d for d in infra}
    kafka, mongo = kinds["Kafka"], kinds["MongoDBCommunity"]
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert mongo["apiVersion"] == "mongodbcommunity.mongodb.com/v1"
    assert mongo["spec"]["type"] == "ReplicaSet" and mongo["spec"]["members"] >= 3
    # what the services read is what the operators create
    config = objects("ConfigMap")["centinela-config"]["data"]
    assert config["CENTINELA_KAFKA_BOOTSTRAP"] == f"{kafka['metadata']['name']}-kafka-bootstrap:9092"
    uri_secret = mongo["spec"]["users"][0]["connectionStringSecretName"]
    for deployment in objects("Deployment").values():
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["CENTINELA_MONGO_URI"]["valueFrom"]["secretKeyRef"]["name"] == uri_secret
    assert not [d for d in BASE if d["kind"] == "StatefulSet"], "no home-made Kafka or MongoDB"


def test_topics_match_the_catalogue() -> None:
    topics = {d["spec"]["topicName"]: d["spec"] for d in docs(K8S / "infra" / "topics.yaml")}
    assert set(topics) == {spec.name for spec in CATALOGUE}
    for spec in CATALOGUE:
        assert topics[spec.name]["partitions"] == CommonSettings().partitions
        assert topics[spec.name]["config"]["retention.ms"] == spec.retention_ms
        assert topics[spec.name]["config"]["cleanup.policy"] == spec.cleanup_policy


needs_tools = pytest.mark.skipif(
    bool(validate.missing_tools()),
    reason="kubeconform, schemas or kustomize missing: python deploy/k8s/validate.py prepare",
)


@needs_tools
@pytest.mark.parametrize("kustomization", validate.KUSTOMIZATIONS)
def test_kustomizations_build_and_validate(kustomization: str) -> None:
    rendered = validate.build(K8S / kustomization)
    ok, output = validate.kubeconform(rendered, kustomization)
    assert ok, output
    assert "Invalid: 0, Errors: 0" in output


@needs_tools
def test_overlays_change_what_they_should() -> None:
    dev = [d for d in yaml.safe_load_all(validate.build(K8S / "overlays" / "dev")) if d]
    prod = [d for d in yaml.safe_load_all(validate.build(K8S / "overlays" / "prod")) if d]
    assert {d["metadata"].get("namespace") for d in dev if d["kind"] != "Namespace"} == {"centinela-dev"}
    assert objects("ConfigMap", dev)["centinela-config"]["data"]["CENTINELA_ENV"] == "dev"
    assert {d["spec"]["replicas"] for d in objects("Deployment", prod).values()} == {3}
    images = {d["spec"]["template"]["spec"]["containers"][0]["image"] for d in objects("Deployment", prod).values()}
    assert len(images) == 1 and not images.pop().endswith(":latest")


@needs_tools
@pytest.mark.parametrize(
    "broken",
    [
        # a typo'd field
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "livenesProbe": {}}]}}}},
        # a port as text where a number is required
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": "x"}]}]}}
            }
        },
    ],
)
def test_an_invalid_manifest_is_refused(broken: dict[str, Any]) -> None:
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "broken"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": broken["spec"]["template"]["spec"]},
        },
    }
    ok, output = validate.kubeconform(yaml.safe_dump(deployment), "broken")
    assert not ok
    assert "broken" in output and "Invalid: 1" in output
