"""Compose service names as hosts on ECS (ecsflow/service/connect.py): with a `namespace` setting the servers
join Service Connect and answer under their compose names (their port mappings named in the task definition);
without one, a service whose environment names another compose service as a host gets one warning."""

from __future__ import annotations

from pathlib import Path

from service_support import API, HEAD, ROLE, load, request, specs

from ecsflow.operations.services import project_kinds
from ecsflow.service.build import build_service_specs
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

AIRFLOW = Path(__file__).parent / "fixtures" / "airflow-official"
NAMESPACE = HEAD + "  namespace: shop.local\n"


def test_with_a_namespace_servers_answer_under_their_compose_name(tmp_path):
    got = specs(tmp_path, API + "redis:\n  image: redis:7\n  expose: [6379]\n"
                "worker:\n  image: acme/worker:1\n  restart: always\n"
                "dns:\n  image: acme/dns:1\n  restart: always\n  ports: ['53:53/udp', {target: 8053, name: admin}]\n",
                NAMESPACE)
    assert request(got["api"])["serviceConnectConfiguration"] == {
        "enabled": True, "namespace": "shop.local",
        "services": [{"portName": "api-8000", "discoveryName": "api",
                      "clientAliases": [{"port": 8000, "dnsName": "api"}]}]}
    assert request(got["redis"])["serviceConnectConfiguration"]["services"] == [
        {"portName": "redis-6379", "discoveryName": "redis", "clientAliases": [{"port": 6379, "dnsName": "redis"}]}]
    # Without a port it joins as a client only; a port Compose names keeps its name; UDP is not carried.
    assert request(got["worker"])["serviceConnectConfiguration"] == {"enabled": True, "namespace": "shop.local"}
    assert request(got["dns"])["serviceConnectConfiguration"]["services"] == [
        {"portName": "admin", "discoveryName": "dns", "clientAliases": [{"port": 8053, "dnsName": "dns"}]}]
    assert got["dns"].notes == ("service 'dns': UDP port 53 is not reachable through Service Connect, which "
                                "carries TCP only",)


def test_the_task_definition_names_its_ports_only_with_a_namespace(tmp_path):
    services = API + "  expose: [9000]\n"
    project = load(tmp_path, services, NAMESPACE)
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated, environ={}, flags={}).settings
    mappings = build_task_definitions(project, settings)[0].request["containerDefinitions"][0]["portMappings"]
    assert [m["name"] for m in mappings] == ["api-8000", "api-9000"]
    project = load(tmp_path, services)  # no namespace: the task definition is what it always was
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated, environ={}, flags={}).settings
    mappings = build_task_definitions(project, settings)[0].request["containerDefinitions"][0]["portMappings"]
    assert mappings == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"},
                        {"containerPort": 9000, "hostPort": 9000, "protocol": "tcp"}]


def test_several_ports_get_one_discovery_name_each(tmp_path):
    spec = specs(tmp_path, "api:\n  image: acme/api:1\n  ports: ['8000:8000', '9000:9000']\n", NAMESPACE)["api"]
    assert [s["discoveryName"] for s in request(spec)["serviceConnectConfiguration"]["services"]] == [
        "api-8000", "api-9000"]


def airflow(namespace: str | None = None):
    project = load_project_airflow()
    flags = {"namespace": namespace} if namespace else {}
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated, environ={}, flags=flags).settings
    kinds = project_kinds(project)
    return {spec.service: spec for spec in
            build_service_specs(project, settings, build_task_definitions(project, settings), kinds)}


def load_project_airflow():
    from ecsflow.compose.loader import load_project

    return load_project([AIRFLOW / "docker-compose.yaml", AIRFLOW / "compose.ecs.yaml"], environ={},
                        warn=lambda message: None)


def test_without_a_namespace_each_service_naming_another_as_a_host_gets_one_warning():
    got = airflow()
    assert got["airflow-worker"].warnings == (
        "service 'airflow-worker': the environment names compose services as hosts (airflow-apiserver in "
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL; postgres in AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, "
        "AIRFLOW__CELERY__RESULT_BACKEND; redis in AIRFLOW__CELERY__BROKER_URL), which do not resolve on ECS "
        "without a Service Connect namespace (set the namespace setting, and the ECS services answer under their "
        "compose names; or point the variables at the real hosts)",)
    # The apiserver names itself (its execution API URL): that one resolves (localhost would too).
    assert "airflow-apiserver in" not in got["airflow-apiserver"].warnings[0]
    assert all(len(spec.warnings) == 1 for spec in got.values())


def test_with_a_namespace_only_the_hosts_service_connect_cannot_answer_are_said():
    got = airflow("airflow.local")
    assert got["airflow-worker"].warnings == (
        "service 'airflow-worker': the environment names compose services as hosts (postgres in "
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, AIRFLOW__CELERY__RESULT_BACKEND; redis in AIRFLOW__CELERY__BROKER_URL), "
        "which Service Connect cannot answer (postgres is left out of ECS; redis is left out of ECS; point the "
        "variables at the real hosts)",)
    for spec in got.values():
        request(spec)


def test_hosts_are_read_from_urls_host_port_and_host_variables_never_from_other_text(tmp_path):
    got = specs(tmp_path, """\
        db:
          image: postgres:16
          expose: [5432]
        api:
          image: acme/api:1
          restart: always
          environment:
            DATABASE_URL: postgresql://app:s3cret@db/app
            DB_ADDR: "db:5432"
            DB_HOST: db
            MODE: db
            NOTE: "the db is down"
            DBX: "postgres://dbx/app"
        """, head=f"name: shop\nx-ecsflow:\n  execution_role: {ROLE}\n  subnets: [subnet-1]\n")
    assert got["api"].warnings == (
        "service 'api': the environment names compose services as hosts (db in DATABASE_URL, DB_ADDR, DB_HOST), "
        "which do not resolve on ECS without a Service Connect namespace (set the namespace setting, and the ECS "
        "services answer under their compose names; or point the variables at the real hosts)",)
    assert "s3cret" not in got["api"].warnings[0]
