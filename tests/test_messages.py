"""What a first run prints on stderr: each warning once, naming every service it applies to; a note on what
never reaches ECS; notes only when they say something (issue 25: "a newcomer's first hour")."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

from cli_runner import ecsflow

from ecsflow.messages import Message, grouped

FIXTURES = Path(__file__).parent / "fixtures"
AIRFLOW_FILES = [Path("docker-compose.yaml"), Path("compose.ecs.yaml")]
ENV = {"NO_COLOR": "1"}


# -- the structured message ------------------------------------------------------------------------------


def test_a_message_reads_as_the_text_it_always_was_and_keeps_its_parts():
    one = Message("environment variable X is empty", ("api",))
    assert one == "service 'api': environment variable X is empty"
    assert (one.text, one.services) == ("environment variable X is empty", ("api",))
    assert Message("x", ("a", "b", "c")) == "services 'a', 'b' and 'c': x"
    assert Message("a project-wide note") == "a project-wide note"
    for again in (copy.deepcopy(one), pickle.loads(pickle.dumps(one))):
        assert (again, again.text, again.services) == (one, one.text, one.services)


def test_grouping_says_each_text_once_naming_its_services_where_first_said():
    said = [Message("A is empty", ("web",)), Message("B is empty", ("web",)), "plain", Message("A is empty", ("db",)),
            "plain", Message("A is empty", ("web",)), Message("C", ("db",))]
    assert grouped(said) == ["services 'web' and 'db': A is empty", "service 'web': B is empty", "plain",
                             "service 'db': C"]


# -- the official Airflow compose file: 41 lines before, 10 after ------------------------------------------


def test_the_official_airflow_file_says_each_warning_once_for_all_its_services(airflow_official):
    result = ecsflow("render", file=AIRFLOW_FILES, cwd=airflow_official, env=ENV)
    lines = result.stderr.splitlines()
    assert len(lines) <= 15, "\n".join(lines)  # 41 lines before the warnings were grouped
    assert len(set(lines)) == len(lines)
    servers = ("'airflow-apiserver', 'airflow-scheduler', 'airflow-dag-processor', 'airflow-worker', "
               "'airflow-triggerer' and 'airflow-init'")
    assert (f"warning: services {servers}: environment variable AIRFLOW__CORE__FERNET_KEY is empty; ECS may drop "
            "empty values") in lines
    assert "warning: services 'postgres' and 'redis': left out of ECS and Airflow (x-ecsflow.skip: true)" in lines
    # said of one service only, it still names that one
    assert any(line.startswith("warning: service 'airflow-init': environment variable _AIRFLOW_WWW_USER_PASSWORD")
               for line in lines)
    assert sum("AIRFLOW__CELERY__RESULT_BACKEND" in line for line in lines) == 1
    # the kinds note names the reason once for the five servers that share it
    assert ("note: kinds: services (inferred): airflow-apiserver, airflow-scheduler, airflow-dag-processor, "
            "airflow-worker, airflow-triggerer (each has restart: always); jobs (inferred): airflow-init"
            ) in result.stderr


def test_gen_dag_says_renders_warnings_once_and_groups_its_own(tmp_path, airflow_official):
    result = ecsflow("gen-dag", "--out", tmp_path / "dags", file=AIRFLOW_FILES, cwd=airflow_official, env=ENV)
    lines = result.stderr.splitlines()
    assert len(set(lines)) == len(lines), "\n".join(lines)
    assert sum("AIRFLOW__CORE__FERNET_KEY" in line for line in lines) == 1
    [servers] = [line for line in lines if "left out of the DAG" in line]
    assert servers.startswith("warning: services 'airflow-apiserver', 'airflow-scheduler', 'airflow-dag-processor', "
                              "'airflow-worker' and 'airflow-triggerer': left out of the DAG: a long-running server "
                              "(it has restart: always)")
    assert len(lines) <= 15, "\n".join(lines)


def test_the_example_notes_only_the_size_that_was_rounded_up(etl_project):
    result = ecsflow("render", cwd=etl_project, env=ENV)
    assert result.stderr.splitlines() == [  # 4 lines before: extract and transform are Fargate sizes exactly
        "note: service 'api': task size cpu 1024 / memory 2048 MiB: the smallest Fargate size that holds cpus 0.75 "
        "(768 units) and memory 1536 MiB (rounded up)",
        "note: kinds: services (inferred): api (it publishes ports); jobs (inferred): extract, transform, load. "
        "Where a guess is wrong, set x-ecsflow.kind: service or job",
        "note: no log_retention is set, so the 4 log groups /ecs/etl/extract, /ecs/etl/transform, /ecs/etl/load, "
        "/ecs/etl/api will never expire (CloudWatch Logs keeps what awslogs writes forever); set "
        "x-ecsflow.log_retention (top level or per service), ECSFLOW_LOG_RETENTION or --log-retention, e.g. 30d",
    ]


# -- what never reaches ECS -------------------------------------------------------------------------------

LAPTOP = """\
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
services:
  web:
    image: nginx
    container_name: shop-web
    restart: always
    ports: ["80:80"]
    networks:
      front:
        ipv4_address: 172.20.0.10
  shell:
    image: busybox
    stdin_open: true
    tty: true
    networks: [front]
  migrate:
    image: busybox
    restart: on-failure
  debug:
    image: busybox
    profiles: [debug]
  mail:
    image: mailhog/mailhog
    profiles: [local, mail]
networks:
  front:
    ipam:
      config: [{subnet: 172.20.0.0/24}]
"""


def test_what_is_dropped_is_said_once_in_one_note(tmp_path):
    (tmp_path / "compose.yaml").write_text(LAPTOP)
    result = ecsflow("render", cwd=tmp_path, env=ENV)
    [note] = [line for line in result.stderr.splitlines() if "not used on ECS" in line]
    assert note == (
        "note: not used on ECS: networks (web, shell); a fixed ipv4_address/ipv6_address (web) does not carry "
        "over: a Fargate task takes its address from its subnet; container_name (web); stdin_open, tty (shell); "
        "restart on a job (migrate); services of profiles not enabled are left out: debug (profile debug), mail "
        "(profile local, mail); --profile NAME enables one")
    assert "warning" not in result.stderr  # none of it is a warning: nothing was lost that ECS could run


def test_nothing_dropped_means_no_note(tmp_path):
    (tmp_path / "compose.yaml").write_text("x-ecsflow: {execution_role: arn:aws:iam::123456789012:role/r}\n"
                                           "services:\n  job: {image: busybox, restart: 'no'}\n")
    result = ecsflow("render", cwd=tmp_path, env=ENV)
    assert "not used on ECS" not in result.stderr and "profiles" not in result.stderr


# -- gen-dag with nothing to run says why ---------------------------------------------------------------


def test_gen_dag_with_no_job_lists_each_service_and_why(tmp_path):
    (tmp_path / "compose.yaml").write_text("""\
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/r
services:
  web:
    image: nginx
    ports: ["80:80"]
  worker:
    image: busybox
    restart: unless-stopped
  db:
    image: postgres
    x-ecsflow: {skip: true}
  cli:
    image: busybox
    profiles: [debug]
""")
    result = ecsflow("gen-dag", "--out", tmp_path / "dags", cwd=tmp_path, expect=1, env=ENV)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[:5] == [
        "error: no services to put in the DAG; each service was left out:",
        "- 'web': it is a long-running server (it publishes ports)",
        "- 'worker': it is a long-running server (it has restart: unless-stopped)",
        "- 'db': it has x-ecsflow.skip: true",
        "- 'cli': its profile debug is not enabled",
    ]
    assert "set x-ecsflow.kind: job" in result.stderr and "--profile" in result.stderr
    assert not (tmp_path / "dags").exists()  # nothing written
    assert "left out of the DAG" not in result.stderr  # the error says it; the warnings would say it again
