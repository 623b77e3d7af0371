"""`ecsflow render --services`: each server's CreateService request, offline, masked like the task definitions,
JSON or YAML; bad input one clear error and nothing on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cli_runner import ecsflow

from ecsflow.ecs.validate import check_create_service_request

EXAMPLE = Path(__file__).parent.parent / "examples" / "etl" / "docker-compose.yml"
AIRFLOW = Path(__file__).parent / "fixtures" / "airflow-official"
ROLE = "arn:aws:iam::123456789012:role/ecs-exec"
PLAIN = {"NO_COLOR": "1"}


def test_the_example_api_is_its_one_server():
    result = ecsflow("render", "--services", "-f", str(EXAMPLE), env=PLAIN)
    [request] = json.loads(result.stdout)
    check_create_service_request(request)
    assert (request["serviceName"], request["cluster"], request["taskDefinition"]) == ("etl-api", "data-jobs",
                                                                                       "etl-api")
    assert "kinds: services (inferred): api (it publishes ports)" in result.stderr
    as_yaml = ecsflow("render", "--services", "-f", str(EXAMPLE), "--format", "yaml", env=PLAIN)
    assert yaml.safe_load(as_yaml.stdout) == [request]


def test_the_official_airflow_file_renders_its_five_servers_and_says_which_hosts_will_not_resolve():
    files = [AIRFLOW / "docker-compose.yaml", AIRFLOW / "compose.ecs.yaml"]
    result = ecsflow("render", "--services", file=files, env=PLAIN)
    requests = json.loads(result.stdout)
    assert [r["serviceName"] for r in requests] == [
        f"airflow-official-airflow-{name}" for name in ("apiserver", "scheduler", "dag-processor", "worker",
                                                        "triggerer")]
    # said once for the four that name the same hosts in the same variables, once for the apiserver
    assert result.stderr.count("do not resolve on ECS without a Service Connect namespace") == 2
    assert ("warning: services 'airflow-scheduler', 'airflow-dag-processor', 'airflow-worker' and "
            "'airflow-triggerer': the environment names compose services as hosts (airflow-apiserver in "
            ) in result.stderr
    connected = ecsflow("render", "--services", file=files, env={**PLAIN, "ECSFLOW_NAMESPACE": "airflow.local"})
    apiserver = json.loads(connected.stdout)[0]
    assert apiserver["serviceConnectConfiguration"]["services"] == [
        {"portName": "airflow-apiserver-8080", "discoveryName": "airflow-apiserver",
         "clientAliases": [{"port": 8080, "dnsName": "airflow-apiserver"}]}]


def test_secret_looking_values_are_masked_unless_show_values(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"""\
x-ecsflow:
  execution_role: {ROLE}
  subnets: [subnet-1]
  tags: {{build: "${{DEPLOY_TOKEN}}"}}
services:
  api:
    image: acme/api:1
    ports: ["80"]
""")
    env = {"DEPLOY_TOKEN": "t0k3n-1234abcd"}
    result = ecsflow("render", "--services", "-f", str(tmp_path / "compose.yaml"), env={**PLAIN, **env})
    assert "t0k3n-1234abcd" not in result.stdout + result.stderr and "(sensitive)" in result.stdout
    assert "aws ecs create-service" in result.stderr
    shown = ecsflow("render", "--services", "--show-values", file=tmp_path / "compose.yaml", env={**PLAIN, **env})
    assert "t0k3n-1234abcd" in shown.stdout


def test_bad_input_is_one_error_and_nothing_on_stdout(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"""\
x-ecsflow:
  execution_role: {ROLE}
services:
  api:
    image: acme/api:1
    ports: ["80"]
  extract:
    image: acme/extract:1
""")
    path = str(tmp_path / "compose.yaml")
    for args, fragments in (
        ((), ["service 'api', key 'subnets'", "no subnets"]),
        (("--subnet", "subnet-1", "extract"),
         ["key 'x-ecsflow.kind'", "'extract' is a job", "x-ecsflow.kind: service"]),
        (("--subnet", "subnet-1", "apii"), ["no such service: 'apii' (did you mean 'api'?)"]),
    ):
        result = ecsflow("render", "--services", "-f", path, *args, env=PLAIN, expect=1)
        assert result.stdout == "" and "Traceback" not in result.stderr
        for fragment in fragments:
            assert fragment in result.stderr, (args, result.stderr)
    ok = ecsflow("render", "--services", "-f", path, "--subnet", "subnet-1", "api", env=PLAIN)
    assert [r["serviceName"] for r in json.loads(ok.stdout)] == [f"{tmp_path.name.lower()}-api"]


def test_a_service_block_on_a_job_is_a_warning(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"""\
x-ecsflow:
  execution_role: {ROLE}
  subnets: [subnet-1]
services:
  worker:
    image: acme/worker:1
    x-ecsflow: {{service: {{autoscaling: {{min: 1, max: 3}}}}}}
""")
    result = ecsflow("render", "-f", str(tmp_path / "compose.yaml"), env=PLAIN)
    assert ("warning: service 'worker' has an x-ecsflow.service block but is a job (nothing marks it as a server "
            "(no restart: always, ports or expose)): the block is used only by ECS services (x-ecsflow.kind: service "
            "makes it one)") in result.stderr
    assert json.loads(ecsflow("render", "--services", file=tmp_path / "compose.yaml", env=PLAIN).stdout) == []
