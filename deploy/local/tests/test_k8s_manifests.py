"""deploy/k8s, rendered by kustomize and checked without a cluster.

Each overlay is built with the pinned kustomize (deploy/k8s/tools/kustomize builds it once with
`go install`) and every object is validated against the Kubernetes JSON schemas that the
kubernetes-validate package bundles (strict: an unknown field fails), for the oldest and the
newest Kubernetes version it knows. Then what the schemas cannot know: every Procfile process
runs with the Procfile's command and its service's settings load from what the pod is given,
probes, requests and limits, the non-root user of the images, Secrets for every credential,
an HPA for each HTTP service and no consumer with more replicas than its topic has partitions.
"""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from ledger_service.settings import POSTER_GROUP, SETTLEMENT_POSTER_GROUP
from localcluster.config import PROJECT_ROOT
from localcluster.containers import BOOTSTRAP_IMAGE, DOCKERFILE_TEMPLATE, Process, processes
from payevents.topics import CATALOGUE, Topic
from payment_service.settings import CHARGER_GROUP, STATUS_GROUP
from settlement_service.settings import ITEMIZER_GROUP, PAYOUT_APPLIER_GROUP
from webhook_service.entrypoints.merchant_webhooks import (
    PAYMENT_NOTIFIER_GROUP,
    SETTLEMENT_NOTIFIER_GROUP,
)

ProcessSettings = dict[str, tuple[Callable[[Mapping[str, str]], object], ...]]
K8S = PROJECT_ROOT / "deploy" / "k8s"
KUSTOMIZE = K8S / "tools" / "kustomize"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
# The group each consumer process reads with: its replicas share that topic's partitions.
CONSUMER_GROUPS: dict[str, str] = {
    "payment-charger": CHARGER_GROUP,
    "payment-status-applier": STATUS_GROUP,
    "ledger-poster": POSTER_GROUP,
    "ledger-settlement-poster": SETTLEMENT_POSTER_GROUP,
    "settlement-itemizer": ITEMIZER_GROUP,
    "settlement-payout-applier": PAYOUT_APPLIER_GROUP,
    "webhook-payment-notifier": PAYMENT_NOTIFIER_GROUP,
    "webhook-settlement-notifier": SETTLEMENT_NOTIFIER_GROUP,
}
# Workers that are not consumers: a leader and standbys (relays), or single passes that are safe
# side by side (janitors, the scheduler, the webhook sender's leases).
OTHER_WORKERS = re.compile(r"-(relay|janitor|scheduler|webhook-sender|dispatcher)$")
# Only the simulator is left out of production, which talks to the real PSP.
NOT_IN = {"production": {"psp-web", "psp-webhook-sender"}}
CREDENTIAL = re.compile(r"(PASSWORD|SECRET|_KEY|SECRETS)$")


def _render(directory: str) -> list[dict[str, Any]]:
    built = subprocess.run(
        [str(KUSTOMIZE), "build", str(K8S / directory)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(_render(f"overlays/{overlay}"))


def _workloads(overlay: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] in WORKLOAD_KINDS}


def _named(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in rendered(overlay) if d["kind"] == kind}


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    return containers[0]


def _processes(overlay: str) -> dict[str, Process]:
    return {n: p for n, p in processes().items() if n not in NOT_IN.get(overlay, set())}


def _pod_environment(overlay: str, container: dict[str, Any]) -> dict[str, str]:
    """What the kubelet gives the container: ConfigMaps, then env with $(NAME) expanded."""
    config_maps, secrets = _named(overlay, "ConfigMap"), _named(overlay, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for entry in container.get("env", []):
        if "value" in entry:
            value = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), entry["value"]
            )
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            secret = secrets.get(ref["name"])
            encoded = secret["data"][ref["key"]] if secret else ""
            # production's Secrets are made outside: a stand-in as long as a real one
            value = base64.b64decode(encoded).decode() if secret else "s" * 43
        env[entry["name"]] = value
    return env


def _topic_of(group: str) -> Topic:
    listed = [t for t in CATALOGUE if any(c.name == group for c in t.consumers)]
    assert listed, f"{group} is in no topic of the catalogue"
    return listed[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(overlay: str, version: str) -> None:
    for document in rendered(overlay):
        kubernetes_validate.validate(document, version, strict=True)


def test_a_broken_manifest_is_refused() -> None:
    """The validation above has teeth: a misspelled probe and a word for a number fail."""
    workload = _workloads("dev")["payment-api"]
    misspelled = yaml.safe_load(yaml.safe_dump(workload))
    misspelled["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    wrong_type = yaml.safe_load(yaml.safe_dump(workload))
    wrong_type["spec"]["replicas"] = "two"
    for broken in (misspelled, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_procfile_process_runs_with_the_procfiles_command(overlay: str) -> None:
    workloads = _workloads(overlay)
    for name, process in _processes(overlay).items():
        assert name in workloads, f"{name} is in the Procfile but not in deploy/k8s ({overlay})"
        container = _container(workloads[name])
        assert tuple(container["command"]) == process.command, name
        assert container["image"].split(":")[0].endswith(process.service.image), name
    extra = set(workloads) - set(_processes(overlay)) - {"payments-migrate"}
    assert extra == set()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_starts_with_the_configuration_its_pod_gets(
    overlay: str, process_settings: ProcessSettings
) -> None:
    workloads = _workloads(overlay)
    for name in _processes(overlay):
        environment = _pod_environment(overlay, _container(workloads[name]))
        for load in process_settings[name]:
            load(environment)  # a ConfigError names every missing or malformed variable


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_from_secrets_and_the_rest_from_a_config_map(overlay: str) -> None:
    for name, workload in _workloads(overlay).items():
        container = _container(workload)
        assert container["envFrom"][0]["configMapRef"]["name"].startswith("payments-config")
        for entry in container.get("env", []):
            if CREDENTIAL.search(entry["name"]):
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name}: {entry['name']}"
            if entry["name"].endswith("_DATABASE_URL"):
                assert re.search(r":\$\(\w+_DB_PASSWORD\)@", entry["value"]), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_processes_that_seal_with_a_key_hold_it(
    overlay: str, sealing_key_holders: dict[str, frozenset[str]]
) -> None:
    for key, expected in sealing_key_holders.items():
        holders = {
            name
            for name, workload in _workloads(overlay).items()
            if any(entry["name"] == key for entry in _container(workload).get("env", []))
        }
        assert holders == expected, key


def test_production_holds_no_credential() -> None:
    assert _named("production", "Secret") == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_process_gets_only_its_own_services_database(overlay: str) -> None:
    for name, process in _processes(overlay).items():
        env = _container(_workloads(overlay)[name]).get("env", [])
        urls = {e["name"] for e in env if e["name"].endswith("_DATABASE_URL")}
        assert urls <= {f"{process.service.folder.upper()}_DATABASE_URL"}, name
    owners = {
        n
        for n, w in _workloads(overlay).items()
        if any("OWNER" in e["name"] for e in _container(w).get("env", []))
    }
    assert owners == {"payments-migrate"}, "only the migrations run as a schema's owner"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_has_readiness_and_liveness_probes(overlay: str) -> None:
    for name, process in _processes(overlay).items():
        container = _container(_workloads(overlay)[name])
        ready, live = container["readinessProbe"], container["livenessProbe"]
        if process.is_web:
            assert ready["httpGet"]["path"] == "/readyz", name
            assert live["httpGet"]["path"] == "/healthz", name
        else:
            health = ["python", "-m", "paykit.health", process.health_file]
            assert ready["exec"]["command"][:4] == health, name
            assert live["exec"]["command"][:5] == [*health, "--live"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for name, workload in _workloads(overlay).items():
        resources = _container(workload)["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{name}: {bound}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_as_the_images_unprivileged_user(overlay: str) -> None:
    image_user = int(re.findall(r"^USER (\d+)", DOCKERFILE_TEMPLATE.read_text(), re.M)[-1])
    for name, workload in _workloads(overlay).items():
        pod = workload["spec"]["template"]["spec"]
        container = _container(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == image_user, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        private_tmp = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108  (an emptyDir)
        assert private_tmp in container["volumeMounts"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_http_service_scales_by_an_hpa_and_has_a_service(overlay: str) -> None:
    hpas, services = _named(overlay, "HorizontalPodAutoscaler"), _named(overlay, "Service")
    for name, process in _processes(overlay).items():
        if not process.is_web:
            continue
        spec = hpas[name]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], name
        assert "replicas" not in _workloads(overlay)[name]["spec"], f"{name}: the HPA sets it"
        assert services[name]["spec"]["ports"][0]["targetPort"] == "http", name


def test_every_worker_is_a_consumer_of_a_known_group_or_one_of_the_others() -> None:
    for name, process in processes().items():
        if not process.is_web:
            assert name in CONSUMER_GROUPS or OTHER_WORKERS.search(name), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_consumer_has_more_replicas_than_its_topic_has_partitions(overlay: str) -> None:
    workloads = _workloads(overlay)
    for name, group in CONSUMER_GROUPS.items():
        consumer = workloads[name]
        topic = _topic_of(group)
        assert consumer["kind"] == "StatefulSet", f"{name}: a stable name, a static member"
        assert 1 <= consumer["spec"]["replicas"] <= topic.partitions, (
            f"{name}: {consumer['spec']['replicas']} replicas, {topic.name} has "
            f"{topic.partitions} partitions"
        )
    stateful = {n for n, w in workloads.items() if w["kind"] == "StatefulSet"}
    assert stateful == set(CONSUMER_GROUPS)


def test_production_runs_a_consumer_per_partition_and_a_standby_per_relay() -> None:
    workloads = _workloads("production")
    for name, group in CONSUMER_GROUPS.items():
        assert workloads[name]["spec"]["replicas"] == _topic_of(group).partitions, name
    for name in (n for n in processes() if n.endswith("-relay")):
        assert workloads[name]["spec"]["replicas"] == 2, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migrate_job_runs_the_release_step_from_the_bootstrap_image(overlay: str) -> None:
    job = _workloads(overlay)["payments-migrate"]
    container = _container(job)
    assert container["image"].split(":")[0].endswith(BOOTSTRAP_IMAGE)
    assert container["command"][:3] == ["python", "-m", "localcluster.release"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
