"""Several containers in one task (issue 24): a service with `network_mode: "service:X"` or `x-ecsflow.task: X`
is a container of X's task definition, never a family, DAG task or ECS service of its own.

The compose side is held to Docker Compose's own answer (`docker-compose config --format json`): which services
share X's network namespace and how they depend on each other is read from Compose's JSON, and the request is
what the mapping makes of that. The request passes botocore's validator and ecsflow's compiled check; `sync`
then `diff` is unchanged in the sandbox and against the HTTP endpoint (tests/ecs_server.py); the real example is
docker-elk (tests/fixtures/docker-elk/SOURCES.md)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
from builder_oracle import built_container, expected_container
from cli_runner import clean_env, ecsflow, ecsflow_process
from compose_oracle import run_compose_config
from ecs_server import dummy_credentials_env
from ecs_shapes import as_real_ecs_answers_it

from ecsflow.airflow import generate_dag
from ecsflow.compose.loader import load_project
from ecsflow.diff import diff_family
from ecsflow.ecs.request_check import operation_check
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import BuildError, ComposeError
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

ELK = Path(__file__).parent / "fixtures" / "docker-elk"
ELK_FILES = ("-f", "docker-compose.yml", "-f", "compose.ecs.yaml", "--profile", "setup")
PLAIN = {"NO_COLOR": "1"}  # for the commands run in this process
CONDITIONS = {"service_started": "START", "service_healthy": "HEALTHY", "service_completed_successfully": "SUCCESS"}
MIB = 1024 * 1024

# An app with an OpenTelemetry collector and an nginx proxy beside it (Compose's way: its network namespace),
# and a migration joined to its task explicitly, which the app waits for.
APP = """\
name: shop
x-ecsflow:
  region: eu-west-1
  account: "123456789012"
  execution_role: arn:aws:iam::123456789012:role/exec
  subnets: [subnet-0a1]
services:
  app:
    image: acme/app:1
    cpus: 0.5
    mem_limit: 512m
    healthcheck:
      test: ["CMD", "/app", "health"]
      interval: 10s
    depends_on:
      migrate: {condition: service_completed_successfully}
  otel:
    image: otel/opentelemetry-collector:0.98.0
    network_mode: service:app
    mem_limit: 256m
    mem_reservation: 128m
  proxy:
    image: nginx:1.27
    network_mode: "service:app"
    cpus: 0.25
    depends_on:
      app: {condition: service_healthy}
  migrate:
    image: acme/app:1
    command: ["/app", "migrate"]
    x-ecsflow: {task: app}
  report:
    image: acme/report:1
    depends_on:
      migrate: {condition: service_completed_successfully}
"""


def write(tmp_path: Path, text: str = APP) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


def builds_of(path: Path, names=None, profiles=()):
    project = load_project([path], warn=lambda message: None, profiles=list(profiles))
    resolved = resolve_settings(compose=project.x_ecsflow.settings, compose_file=path.name, environ={}, flags={})
    return project, resolved, build_task_definitions(project, resolved.settings, names)


def containers_of(request: dict) -> dict[str, dict]:
    return {c["name"]: c for c in request["containerDefinitions"]}


# -- the compose side, from Docker Compose's own answer ---------------------------------------------------


def expected_task(compose: dict, main: str, joined: tuple[str, ...] = ()) -> dict:
    """What the mapping makes of Compose's JSON for the task of `main`: its containers (main first, then
    compose order), each one's dependsOn and essential, and the task's size (the sum of the limits, rounded up
    to a Fargate size). `joined`: the services joined with x-ecsflow.task (Compose's JSON leaves `x-` out)."""
    from builder_oracle import expected_size

    names = [main] + [n for n, s in compose.items()
                      if n != main and (s.get("network_mode") == f"service:{main}" or n in joined)]
    completes = {d for n in names for d, spec in (compose[n].get("depends_on") or {}).items()
                 if d in names and spec["condition"] == "service_completed_successfully"}
    containers = {}
    for name in names:
        depends = [{"containerName": d, "condition": CONDITIONS[spec["condition"]]}
                   for d, spec in (compose[name].get("depends_on") or {}).items() if d in names]
        containers[name] = {"essential": name not in completes, "dependsOn": depends}
    need_cpu = sum(float(compose[n].get("cpus") or 0) for n in names)
    need_memory = sum(max(int(compose[n].get(k) or 0) for k in ("mem_limit", "mem_reservation")) for n in names)
    size = expected_size({"cpus": need_cpu or None, "mem_limit": need_memory or None})
    return {"containers": containers, "size": size}


def built_task(request: dict) -> dict:
    return {"containers": {c["name"]: {"essential": c["essential"], "dependsOn": c.get("dependsOn", [])}
                           for c in request["containerDefinitions"]},
            "size": (request["cpu"], request["memory"])}


def test_the_task_is_what_the_mapping_makes_of_composes_own_answer(tmp_path, compose_bin):
    path = write(tmp_path)
    code, compose, stderr = run_compose_config(tmp_path, [], {})
    assert code == 0, stderr
    services = compose["services"]
    # Compose itself says it: the collector and the proxy run in the app's namespace, started after it.
    assert services["otel"]["network_mode"] == "service:app"
    assert services["otel"]["depends_on"]["app"]["condition"] == "service_started"
    project, _, builds = builds_of(path)
    assert [(b.service, b.family, b.sidecars) for b in builds] == [
        ("app", "shop-app", ("otel", "proxy", "migrate")), ("report", "shop-report", ())]
    request = builds[0].request
    assert [c["name"] for c in request["containerDefinitions"]] == ["app", "otel", "proxy", "migrate"]
    assert built_task(request) == expected_task(services, "app", joined=("migrate",))
    # 0.5 + 0.25 vCPU and 512 + 256 MiB: 768 units and 768 MiB, rounded up to 1 vCPU / 2 GiB.
    assert (request["cpu"], request["memory"]) == ("1024", "2048")
    # Each container is still its service, field by field, as for a task of one (docs/reference/mapping.md).
    for container in request["containerDefinitions"]:
        alone = {**request, "containerDefinitions": [container]}
        ours, theirs = built_container(alone), expected_container(services[container["name"]])
        assert {k: v for k, v in ours.items() if k != "size"} == {k: v for k, v in theirs.items() if k != "size"}
    # Each compose limit is its own container's.
    limits = {c["name"]: (c.get("cpu"), c.get("memory"), c.get("memoryReservation"))
              for c in request["containerDefinitions"]}
    assert limits == {"app": (512, 512, None), "otel": (None, 256, 128), "proxy": (256, None, None),
                      "migrate": (None, None, None)}
    for build in builds:
        check_register_request(build.request, build.service)  # botocore's own validator
        assert operation_check("RegisterTaskDefinition")(build.request)  # the compiled check agrees


def test_the_comparison_notices_a_difference(tmp_path, compose_bin):
    """The oracle can fail: Compose's answer with another condition is not what was built."""
    path = write(tmp_path)
    _, compose, _ = run_compose_config(tmp_path, [], {})
    _, _, builds = builds_of(path)
    changed = copy.deepcopy(compose["services"])
    changed["proxy"]["depends_on"]["app"]["condition"] = "service_started"
    assert built_task(builds[0].request) != expected_task(changed, "app", joined=("migrate",))
    assert built_task(builds[0].request) != expected_task(compose["services"], "app")


def test_docker_elk_setup_is_a_container_of_the_elasticsearch_task(compose_bin):
    code, compose, stderr = run_compose_config(ELK, list(ELK_FILES), {})
    assert code == 0, stderr
    assert compose["services"]["setup"]["network_mode"] == "service:elasticsearch"
    project = load_project([ELK / "docker-compose.yml", ELK / "compose.ecs.yaml"], profiles=["setup"],
                           warn=lambda message: None, environ={})
    resolved = resolve_settings(compose=project.x_ecsflow.settings, compose_file="docker-compose.yml", environ={},
                                flags={})
    builds = build_task_definitions(project, resolved.settings)
    assert {b.family: b.sidecars for b in builds} == {
        "docker-elk-kibana-genkeys": (), "docker-elk-elasticsearch": ("setup",), "docker-elk-logstash": (),
        "docker-elk-kibana": ()}
    elasticsearch = next(b for b in builds if b.service == "elasticsearch").request
    containers = containers_of(elasticsearch)
    assert list(containers) == ["elasticsearch", "setup"]
    assert containers["elasticsearch"]["essential"] is True
    assert containers["setup"]["essential"] is False  # x-ecsflow.essential: false: its exit does not stop the task
    assert containers["setup"]["dependsOn"] == [{"containerName": "elasticsearch", "condition": "START"}]
    assert containers["setup"]["image"] == "registry.example.com/docker-elk/setup:9.5.1"
    assert built_task(elasticsearch)["containers"]["setup"]["dependsOn"] == expected_task(
        compose["services"], "elasticsearch")["containers"]["setup"]["dependsOn"]
    check_register_request(elasticsearch, "elasticsearch")


# -- the rules of ECS ---------------------------------------------------------------------------------------


def test_a_sidecar_is_essential_unless_a_container_waits_for_it_to_complete(tmp_path):
    _, _, builds = builds_of(write(tmp_path))
    containers = containers_of(builds[0].request)
    assert {n: c["essential"] for n, c in containers.items()} == {
        "app": True, "otel": True, "proxy": True, "migrate": False}
    assert containers["app"]["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]
    assert containers["proxy"]["dependsOn"] == [{"containerName": "app", "condition": "HEALTHY"}]
    assert containers["otel"]["dependsOn"] == [{"containerName": "app", "condition": "START"}]
    assert "dependsOn" not in containers["migrate"]


def test_a_task_of_one_container_is_as_before(tmp_path):
    """No container-level limits, no dependsOn: a service without sidecars maps as it always did."""
    _, _, builds = builds_of(write(tmp_path))
    [report] = builds[1].request["containerDefinitions"]
    assert not {"cpu", "memory", "dependsOn"} & set(report)


MIGRATE = "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app}\n"
BAD = {
    "network_mode host": (
        "  migrate:\n    image: acme/app:1\n    network_mode: host\n",
        "migrate", "network_mode", "network_mode: host is not possible on Fargate"),
    "a task that is not a service": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: nope}\n",
        "migrate", "x-ecsflow.task", "'nope' is not a service of this project"),
    "a task that is a sidecar": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: otel}\n",
        "migrate", "x-ecsflow.task", "'otel' is itself a container of the task of 'app'"),
    "a task that names itself": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: migrate}\n",
        "migrate", "x-ecsflow.task", "names the service itself"),
    "two tasks": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app}\n  probe:\n    image: acme/probe:1\n"
        "    network_mode: service:app\n    x-ecsflow: {task: report}\n",
        "probe", "x-ecsflow.task", "name two tasks"),
    "a task left out of ECS": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: report}\n",
        "migrate", "x-ecsflow.task", "'report' is left out of ECS (it has x-ecsflow.skip: true)"),
    "a task key on a sidecar": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app, schedule: '@daily'}\n",
        "migrate", "x-ecsflow.schedule", "x-ecsflow.schedule speaks for the whole task"),
    "HEALTHY without a health check": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app}\n  probe:\n    image: acme/probe:1\n"
        "    network_mode: service:app\n    depends_on:\n      otel: {condition: service_healthy}\n",
        "probe", "depends_on.otel", "'otel' has no health check that ECS runs"),
    "the main service completing first": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app}\n  probe:\n    image: acme/probe:1\n"
        "    network_mode: service:app\n    depends_on:\n      app: {condition: service_completed_successfully}\n",
        "probe", "depends_on.app", "'app' is the main service of this task"),
    "essential and completing": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app, essential: true}\n",
        "migrate", "x-ecsflow.essential", "ECS refuses that on an essential container"),
    "a task size below its containers' cpus": (
        MIGRATE + "  big:\n    image: acme/big:1\n    x-ecsflow: {cpu: 256, memory: 2048}\n"
        "  side:\n    image: acme/side:1\n    network_mode: service:big\n    cpus: 0.5\n",
        "big", "x-ecsflow.cpu", "x-ecsflow.cpu 256 is less than the 512 CPU units its containers ask together"),
    "a task size below a container's memory limit": (
        MIGRATE + "  big:\n    image: acme/big:1\n    x-ecsflow: {cpu: 512, memory: 1024}\n"
        "  side:\n    image: acme/side:1\n    network_mode: service:big\n    mem_limit: 2g\n",
        "big", "x-ecsflow.memory", "less than container 'side's memory limit 2048 MiB"),
    "a task size below what its containers reserve": (
        MIGRATE + "  big:\n    image: acme/big:1\n    mem_limit: 768m\n    x-ecsflow: {cpu: 512, memory: 1024}\n"
        "  side:\n    image: acme/side:1\n    network_mode: service:big\n    mem_limit: 512m\n",
        "big", "x-ecsflow.memory", "less than the 1280 MiB its containers reserve together (big 768 MiB, side 512"),
    "essential on a main service": (
        "  migrate:\n    image: acme/app:1\n    x-ecsflow: {essential: false}\n",
        "migrate", "x-ecsflow.essential", "x-ecsflow.essential is a sidecar's"),
}
BASE = """\
x-ecsflow: {execution_role: arn:aws:iam::123456789012:role/exec}
services:
  app:
    image: acme/app:1
    depends_on:
      migrate: {condition: service_completed_successfully}
  otel:
    image: otel/opentelemetry-collector:0.98.0
    network_mode: service:app
  report:
    image: acme/report:1
    x-ecsflow: {skip: true}
"""


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_clear_error_naming_file_line_service_and_key_and_nothing_is_written(tmp_path, case):
    block, service, key, words = BAD[case]
    path = write(tmp_path, BASE + block)
    lines = (BASE + block).splitlines()
    segment = key.rsplit(".", 1)[-1] + ":"
    line = next(n for n in range(lines.index(f"  {service}:"), len(lines)) if segment in lines[n])
    column = lines[line].index(segment) + 1  # where the key itself is written (compose/positions.py)
    done = ecsflow("sync", "--sandbox", file=path, env=PLAIN, expect=1)
    assert f"{path}:{line + 1}:{column}, service '{service}', key '{key}'" in done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.output
    assert not (tmp_path / ".ecsflow" / "sandbox").exists() or not any((tmp_path / ".ecsflow" / "sandbox").iterdir())


def test_a_cycle_is_refused_as_compose_refuses_it(tmp_path, compose_bin):
    text = APP.replace("      migrate: {condition: service_completed_successfully}\n  otel:",
                       "      otel: {condition: service_started}\n  otel:", 1)
    write(tmp_path, text)
    code, _, stderr = run_compose_config(tmp_path, [], {})
    assert code != 0 and "cycle" in stderr
    with pytest.raises(ComposeError, match="dependency cycle detected: app -> otel -> app"):
        builds_of(tmp_path / "compose.yaml")


def test_a_sidecar_whose_main_service_a_profile_leaves_out_is_an_error(tmp_path):
    text = ("x-ecsflow: {execution_role: arn:aws:iam::123456789012:role/exec}\n"
            "services:\n  app:\n    image: acme/app:1\n    profiles: [web]\n"
            "  migrate:\n    image: acme/app:1\n    x-ecsflow: {task: app}\n")
    with pytest.raises(ComposeError) as info:
        builds_of(write(tmp_path, text))
    assert (info.value.service, info.value.key) == ("migrate", "x-ecsflow.task")
    assert "or its profiles leave it out" in info.value.message
    _, _, builds = builds_of(tmp_path / "compose.yaml", profiles=["web"])
    assert builds[0].sidecars == ("migrate",)


@pytest.mark.parametrize("command", ["render", "run", "gen-dag", "diff"])
def test_naming_a_sidecar_is_an_error_naming_its_tasks_main_service(tmp_path, command):
    path = write(tmp_path)
    args = [command, "otel"] if command == "render" else [command, "--sandbox", "otel"]
    if command == "gen-dag":
        args += ["--out", str(tmp_path / "dags")]
    done = ecsflow(*args, file=path, env=PLAIN, expect=1)
    assert "service 'otel' is a container of the task of 'app' (network_mode: service:app)" in done.stderr
    assert "hint: name 'app' instead (its task holds app, otel, proxy, migrate)" in done.stderr
    assert not (tmp_path / "dags").exists()


def test_render_says_the_kinds_of_tasks_not_of_sidecars(tmp_path):
    done = ecsflow("render", file=write(tmp_path), env=PLAIN)
    assert [r["family"] for r in json.loads(done.stdout)] == ["shop-app", "shop-report"]
    [kinds] = [line for line in done.stderr.splitlines() if "kinds:" in line]
    assert "app" in kinds and "report" in kinds and "otel" not in kinds and "migrate" not in kinds
    assert "task size cpu 1024 / memory 2048 MiB" in done.stderr
    assert "the sum of its 4 containers' limits" in done.stderr


# -- ECS: sync, then diff unchanged, per container -------------------------------------------------------


def test_sync_then_diff_is_unchanged_in_the_sandbox_and_a_sidecars_change_shows_per_container(tmp_path):
    write(tmp_path)
    first = ecsflow_process("sync", "--sandbox", "--format", "json", cwd=tmp_path, env=clean_env())
    assert [(f["service"], f["family"], f["status"]) for f in json.loads(first.stdout)["families"]] == [
        ("app", "shop-app", "registered"), ("report", "shop-report", "registered")]
    ecsflow_process("diff", "--sandbox", "--exit-code", cwd=tmp_path, env=clean_env())  # unchanged: exit 0
    write(tmp_path, APP.replace("nginx:1.27", "nginx:1.28"))
    changed = ecsflow_process("diff", "--sandbox", "--exit-code", "--format", "json", cwd=tmp_path, env=clean_env(),
                              expect=2)
    [family] = [f for f in json.loads(changed.stdout)["families"] if f["status"] != "unchanged"]
    assert family["family"] == "shop-app"
    assert [c["path"] for c in family["changes"]] == ["containers[proxy].image"]


def test_sync_then_diff_is_unchanged_against_the_endpoint_and_real_ecs_shapes(tmp_path, ecs):
    path = write(tmp_path)
    env = dummy_credentials_env()
    ecsflow("sync", "--format", "json", file=path, endpoint=ecs, env=env)
    assert ecs.calls["RegisterTaskDefinition"] == 2  # one family for the four containers, one for report
    ecsflow("diff", "--exit-code", file=path, endpoint=ecs, env=env)  # unchanged: exit 0
    _, _, builds = builds_of(path)
    request = builds[0].request
    assert diff_family("app", "shop-app", request, as_real_ecs_answers_it(request)).changes == ()


# -- the commands: gen-dag, run, deploy address the task by its main service --------------------------------


def test_gen_dag_puts_the_task_in_the_dag_once_under_its_main_service(tmp_path):
    project, resolved, builds = builds_of(write(tmp_path))
    generated = generate_dag(project, resolved, builds)
    assert generated.services == ("app", "report")
    assert set(generated.task_ids) == {"app", "report"}
    # report waits for migrate, a container of app's task: the DAG's edge is app -> report.
    assert "app >> report" in generated.source.replace("tasks.", "").replace("()", "")
    assert '"task_definition": "shop-app",' in generated.tasks_source
    assert '"container_name": "app",' in generated.tasks_source
    assert "otel" not in generated.tasks_source and "migrate" not in generated.tasks_source


def test_deploy_deploys_the_task_with_its_sidecar_and_no_service_for_it(tmp_path):
    target = tmp_path / "docker-elk"
    shutil.copytree(ELK, target)
    done = ecsflow_process("deploy", *ELK_FILES, "--format", "json", "elasticsearch", "--sandbox", cwd=target,
                           env=clean_env())
    assert [(s["service"], s["status"]) for s in json.loads(done.stdout)["services"]] == [
        ("elasticsearch", "created")]
    families = sorted(p.name for p in (target / ".ecsflow" / "sandbox").glob("*.json"))
    assert families == ["docker-elk-elasticsearch.json"]  # no family for setup
    assert '"setup"' in (target / ".ecsflow" / "sandbox" / families[0]).read_text()  # it is in the task
    ecsflow_process("diff", *ELK_FILES, "--exit-code", "elasticsearch", "--sandbox", cwd=target,
                    env=clean_env())  # unchanged: exit 0


def test_naming_a_sidecar_to_deploy_is_an_error(tmp_path):
    target = tmp_path / "elk"
    shutil.copytree(ELK, target)
    done = ecsflow_process("deploy", *ELK_FILES, "setup", "--sandbox", cwd=target, env=clean_env(), expect=1)
    assert "service 'setup' is a container of the task of 'elasticsearch'" in done.stderr
    assert not (target / ".ecsflow" / "sandbox").exists() or not list((target / ".ecsflow" / "sandbox").glob("*.json"))



def test_run_runs_the_task_by_its_main_service_and_exits_with_its_code(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow: {execution_role: 'arn:aws:iam::123456789012:role/exec', subnets: [subnet-0a1]}\n"
        "services:\n"
        "  job:\n    image: python:3.12\n    command: [python3, -c, 'print(\"loaded\"); raise SystemExit(3)']\n"
        "  agent:\n    image: datadog/agent:7\n    network_mode: service:job\n")
    done = ecsflow_process("run", "--execute-locally", "job", "--sandbox", cwd=tmp_path, env=clean_env(), expect=3)
    assert "loaded" in done.stdout
    assert "only job's command runs, not its task's other containers (agent)" in done.stderr
    assert sorted(p.name for p in (tmp_path / ".ecsflow" / "sandbox").glob("*.json")) == [f"{tmp_path.name}-job.json"]


def test_run_with_a_size_below_its_containers_limits_is_refused_before_anything_is_written(tmp_path):
    """RunTask refuses a task size smaller than its containers' own limits ("'memory' setting for container ... is
    greater than for task"); `run` says so before it registers the family."""
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow: {execution_role: 'arn:aws:iam::123456789012:role/exec', subnets: [subnet-0a1]}\n"
        "services:\n"
        "  job:\n    image: python:3.12\n    command: [python3, -c, 'print(1)']\n    mem_limit: 1g\n"
        "  agent:\n    image: datadog/agent:7\n    network_mode: service:job\n    mem_limit: 1g\n")
    done = ecsflow_process("run", "job", "--cpu", "256", "--memory", "1024", "--sandbox", cwd=tmp_path,
                           env=clean_env(), expect=1)
    assert "key '--memory': --memory 1024 MiB is less than the 2048 MiB its containers reserve together" in done.stderr
    assert "give --memory 2048 or more" in done.stderr
    assert "Traceback" not in done.output
    state = tmp_path / ".ecsflow" / "sandbox"
    assert not state.exists() or not list(state.glob("*.json"))
    assert ecsflow_process("run", "job", "--cpu", "256", "--memory", "2048", "--sandbox", cwd=tmp_path,
                           env=clean_env(), expect=0)


def test_deploy_orders_a_task_by_what_its_sidecars_depend_on(tmp_path):
    """A sidecar that waits for a job to complete makes its task wait for it: the job runs before the rollout."""
    from ecsflow.operations.services import project_kinds
    from ecsflow.service.order import deploy_order
    from ecsflow.taskdef import select_services

    path = write(tmp_path, "services:\n"
                 "  web:\n    image: acme/web:1\n    ports: ['8080:8080']\n"
                 "  warm:\n    image: acme/web:1\n    x-ecsflow: {task: web}\n"
                 "    depends_on: {migrate: {condition: service_completed_successfully}}\n"
                 "  migrate:\n    image: acme/web:1\n")
    project = load_project([path], warn=lambda message: None)
    order = deploy_order(project, ["web"], project_kinds(project), select_services(project).layout.main_of)
    assert [(s.name, s.kind, s.after) for s in order.steps] == [
        ("migrate", "job", ()), ("web", "service", ("migrate",))]
    assert "warm" not in project_kinds(project)


def test_a_sidecar_that_runs_once_beside_a_server_is_warned_about_unless_essential_is_said(tmp_path):
    """docker-elk's setup exits when it is done: essential (the default), its exit would stop Elasticsearch's
    task. The warning says so, and x-ecsflow.essential (either way) says it is meant."""
    text = ("x-ecsflow: {execution_role: 'arn:aws:iam::123456789012:role/exec'}\nservices:\n"
            "  search:\n    image: acme/search:1\n    restart: unless-stopped\n"
            "  setup:\n    image: acme/setup:1\n    network_mode: service:search\n")
    _, _, [build] = builds_of(write(tmp_path, text))
    assert [w for w in build.warnings if "a server" in w] == [
        "service 'setup': a container of the task of 'search', a server, that nothing marks as long-running (no "
        "restart: always, ports or expose): it is essential, so when it exits ECS stops the whole task and replaces "
        "it; `x-ecsflow.essential: false` lets it exit alone, as Compose does (`true` says that is meant)"]
    for said in ("false", "true"):
        _, _, [build] = builds_of(write(tmp_path, text + f"    x-ecsflow: {{essential: {said}}}\n"))
        assert not [w for w in build.warnings if "a server" in w]
        assert containers_of(build.request)["setup"]["essential"] is (said == "true")


def test_a_load_balancer_sends_to_the_sidecar_that_maps_the_port(tmp_path):
    """A proxy joined with x-ecsflow.task publishes the port: the ECS service's target group sends to its
    container; the request passes botocore's validator for CreateService."""
    from ecsflow.ecs.validate import check_create_service_request
    from ecsflow.operations.services import project_kinds
    from ecsflow.service.build import build_service_specs

    path = write(tmp_path, "x-ecsflow:\n  execution_role: arn:aws:iam::123456789012:role/exec\n"
                 "  subnets: [subnet-0a1]\nservices:\n"
                 "  web:\n    image: acme/web:1\n    restart: always\n"
                 "    x-ecsflow:\n      service: {target_group: web-tg}\n"
                 "  nginx:\n    image: nginx:1.27\n    ports: ['443:443']\n    x-ecsflow: {task: web}\n")
    project, resolved, builds = builds_of(path)
    [spec] = build_service_specs(project, resolved.settings, builds, project_kinds(project))
    assert (spec.load_balancer.container_name, spec.load_balancer.container_port) == ("nginx", 443)
    request = spec.create_request("arn:aws:ecs:eu-west-1:123456789012:task-definition/x-web:1",
                                  "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-tg/0123456789abcdef")
    assert request["loadBalancers"][0]["containerName"] == "nginx"
    check_create_service_request(request, "web")


def test_two_containers_of_one_name_are_an_error(tmp_path):
    """`web.proxy` and `web-proxy` are both the container `web-proxy` on ECS, which refuses two of one name."""
    path = write(tmp_path, "x-ecsflow: {execution_role: 'arn:aws:iam::123456789012:role/exec'}\nservices:\n"
                 "  web.proxy:\n    image: nginx:1.27\n"
                 "  web-proxy:\n    image: nginx:1.27\n    network_mode: service:web.proxy\n")
    with pytest.raises(BuildError) as info:
        builds_of(path)
    assert info.value.service == "web-proxy" and "'web-proxy' is also that of 'web.proxy'" in info.value.message
