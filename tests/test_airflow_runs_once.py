"""Generated factories whose runs happen once and finish (issue 27), in a real Airflow (3.x, 2.11 and 2.10, as
.ci/run runs them) with its Amazon provider: `reattach` and no XCom by default, the first try on FARGATE_SPOT and
every retry on FARGATE (the templated `capacity_provider_strategy`, rendered per try), the deferred wait bounded
by `execution_timeout`; and `dag.test()` of a task that Spot interrupts once (the local task runner's switch,
as `--sandbox` has it), whose retry runs on FARGATE and succeeds, with nothing in XCom.

The fixtures are conftest's: test_airflow_dagbag's docstring says why (one AIRFLOW_HOME a process), and
dag_run_support has `local_ecs`."""

from __future__ import annotations

import math
import types
from datetime import timedelta
from pathlib import Path

import pytest
from airflow_support import REGION, ROLE, compose_project, generate, register
from dag_run_support import run_dag, states
from real_airflow import AIRFLOW_MAJOR, EXAMPLE_DAGS, dag_bag, render

pytestmark = pytest.mark.slow

SPOT_FIRST = [{"capacityProvider": "{{ 'FARGATE_SPOT' if ti.try_number <= 1 else 'FARGATE' }}", "weight": 1}]


def on_try(task, number: int) -> list:
    """The task's capacity_provider_strategy as Airflow renders it for try ``number``."""
    render(task, task.dag.params.dump(), ti=types.SimpleNamespace(try_number=number), ds="2024-06-01")
    return task.capacity_provider_strategy


def test_the_examples_tasks_reattach_push_no_xcom_and_retry_spot_on_fargate(airflow_home):
    bag = dag_bag(EXAMPLE_DAGS)
    for dag_id in ("etl", "orders_rebuild"):
        for task in (t for t in bag.dags[dag_id].tasks if hasattr(t, "reattach")):
            assert (task.task_id, task.reattach, task.do_xcom_push) == (task.task_id, True, False)
    transform = bag.dags["etl"].get_task("transform")
    assert transform.capacity_provider_strategy == SPOT_FIRST  # as written in etl_tasks.py
    assert on_try(transform, 1) == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    [transform] = [t for t in dag_bag(EXAMPLE_DAGS).dags["etl"].tasks if t.task_id == "transform"]  # unrendered
    assert on_try(transform, 2) == [{"capacityProvider": "FARGATE", "weight": 1}]
    extract = bag.dags["etl"].get_task("extract")
    assert (extract.launch_type, extract.capacity_provider_strategy) == ("FARGATE", None)
    # transform's execution_timeout is 2h: its deferred wait ends one 6 s delay after it.
    assert (transform.waiter_delay, transform.waiter_max_attempts) == (6, 1201)
    assert extract.waiter_max_attempts == 1000000  # no execution_timeout: the provider's own default


BOUNDS = """\
import pendulum
from datetime import timedelta
from jobs_tasks import plain, spot

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10+
    from airflow.models.dag import DAG

with DAG(dag_id="bounds", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         default_args={"execution_timeout": timedelta(minutes=10)}):
    spot(task_id="deferred", deferrable=True)  # x-ecsflow.execution_timeout: 90m
    plain(task_id="from_default_args")
    plain(task_id="explicit", deferrable=True, waiter_max_attempts=5)
    plain(task_id="slow_poll", waiter_delay=60, execution_timeout=timedelta(minutes=30))
    spot(task_id="overridden", reattach=False, do_xcom_push=True,
         capacity_provider_strategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])

with DAG(dag_id="no_timeout", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    plain(task_id="forever")
"""

COMPOSE = f"""\
name: jobs
x-ecsflow: {{region: {REGION}, cluster: jobs, subnets: [SUBNET], security_groups: [GROUP], execution_role: {ROLE}}}
services:
  spot:
    image: x
    command: [python, -m, job, spot]
    x-ecsflow: {{capacity_provider: FARGATE_SPOT, execution_timeout: 90m, retries: 1, retry_delay: 0}}
  plain:
    image: x
    command: [python, -m, job, plain]
  steady:
    image: x
    command: [python, -m, job, steady]
    x-ecsflow: {{capacity_provider: FARGATE_SPOT, spot_fallback: false}}
"""


def jobs_project(tmp_path: Path, subnet: str = "subnet-0001", group: str = "sg-0001"):
    return compose_project(tmp_path, COMPOSE.replace("SUBNET", subnet).replace("GROUP", group))


def test_each_default_is_overridable_and_the_wait_follows_execution_timeout(airflow_home, tmp_path):
    generated, _ = generate(jobs_project(tmp_path))
    dags = tmp_path / "dags"
    from ecsflow.airflow import write_dag

    assert write_dag(generated, dags).ok
    (dags / "bounds.py").write_text(BOUNDS)
    bag = dag_bag(dags)
    tasks = {t.task_id: t for t in bag.dags["bounds"].tasks}
    expected = {"deferred": (6, math.ceil(5400 / 6) + 1), "from_default_args": (6, 101), "explicit": (6, 5),
                "slow_poll": (60, 31)}
    assert {name: (tasks[name].waiter_delay, tasks[name].waiter_max_attempts) for name in expected} == expected
    for name in ("deferred", "from_default_args", "slow_poll"):  # the wait covers the timeout and one delay more
        task = tasks[name]
        wait = task.waiter_delay * task.waiter_max_attempts
        assert wait >= task.execution_timeout.total_seconds() + task.waiter_delay
    assert bag.dags["no_timeout"].get_task("forever").waiter_max_attempts == 1000000
    overridden = tasks["overridden"]
    assert (overridden.reattach, overridden.do_xcom_push) == (False, True)
    assert on_try(overridden, 2) == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    # x-ecsflow.spot_fallback: false keeps every try on Spot.
    steady = bag.dags["jobs"].get_task("steady")
    assert on_try(steady, 2) == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "_SPOT_FIRST" in generated.tasks_source and "{{ 'FARGATE_SPOT' if ti.try_number <= 1" in (
        generated.tasks_source)


def test_a_deferred_task_hands_the_bound_to_its_trigger(local_ecs, tmp_path):
    """The operator's own execute(), up to its defer: the trigger polls waiter_max_attempts times, and the
    deferral's timeout is that wait and the provider's 60 s (airflow/providers/amazon/aws/operators/ecs.py)."""
    subnet, group = local_ecs.network()
    generated, builds = generate(jobs_project(tmp_path, subnet, group))
    from ecsflow.airflow import write_dag

    dags = tmp_path / "dags"
    assert write_dag(generated, dags).ok
    (dags / "bounds.py").write_text(BOUNDS)
    register(local_ecs, "jobs", builds)
    task = dag_bag(dags).dags["bounds"].get_task("deferred")
    on_try(task, 1)
    ti = types.SimpleNamespace(dag_id="bounds", task_id="deferred", run_id="manual__1", map_index=-1)
    with pytest.raises(BaseException) as deferred:
        task.execute({"ti": ti})
    assert type(deferred.value).__name__ == "TaskDeferred"
    attempts = math.ceil(5400 / 6) + 1
    assert deferred.value.trigger.waiter_max_attempts == attempts
    assert deferred.value.timeout == timedelta(seconds=attempts * 6 + 60)
    assert local_ecs.runner.wait_idle()


FALLBACK = """\
import pendulum
from datetime import timedelta
from jobs_tasks import plain, spot

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.10+
    from airflow.models.dag import DAG

with DAG(dag_id="spot_once", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    # (the provider's log fetcher sleeps awslogs_fetch_interval before it stops: 30 s by default, on 9.17.0)
    fast = {"awslogs_fetch_interval": timedelta(seconds=1)}
    spot(**fast)
    plain(task_id="loud", do_xcom_push=True, **fast)
"""


def test_a_try_that_spot_interrupts_is_retried_on_fargate(local_ecs, tmp_path):
    """dag.test() runs retries (retry_delay 0) on every supported Airflow: try 1 of `spot` runs on FARGATE_SPOT and
    is interrupted (stopCode SpotInterruption, no exit code: the task fails), try 2 runs on FARGATE and succeeds.
    Both tries' tasks carry the startedBy that reattach derives from the task instance. `spot` pushed nothing to
    XCom; `loud` (do_xcom_push=True) pushed its ARN and its log's last line, which is what the default keeps
    out of Airflow's database."""
    from airflow.providers.amazon.aws.utils.identifiers import generate_uuid

    subnet, group = local_ecs.network()
    (local_ecs.runner.workdir / "jobs" / "job.py").write_text(
        "import sys, time\nprint('job', *sys.argv[1:], flush=True)\ntime.sleep(1.5)\nprint('token=hunter2')\n")
    local_ecs.runner.spot_interrupt_after = 0.3
    try:
        generated, builds = generate(jobs_project(tmp_path, subnet, group))
        extra = tmp_path / "spot_once.py"
        extra.write_text(FALLBACK)
        run = run_dag(generated, builds, local_ecs, "jobs", dag_id="spot_once", extra=extra)
    finally:
        local_ecs.runner.spot_interrupt_after = None
    assert str(run.state) == "success", states(run)
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert tis["spot"].try_number == 2 and tis["loud"].try_number == 1

    ecs = local_ecs.client("ecs")
    arns = ecs.list_tasks(cluster="jobs", desiredStatus="STOPPED")["taskArns"]
    described = sorted(ecs.describe_tasks(cluster="jobs", tasks=arns)["tasks"], key=lambda t: t["createdAt"])
    spot = [t for t in described if t["taskDefinitionArn"].endswith("jobs-spot:1")]
    assert [t["capacityProviderName"] for t in spot] == ["FARGATE_SPOT", "FARGATE"]
    assert spot[0]["stopCode"] == "SpotInterruption" and "exitCode" not in spot[0]["containers"][0]
    assert spot[1]["containers"][0]["exitCode"] == 0
    started_by = generate_uuid("spot_once", "spot", run.run_id, "-1")
    assert {t["startedBy"] for t in spot} == {started_by}

    pushed = xcoms(run)
    assert {key for task_id, key in pushed if task_id == "spot"} == set()
    assert {key for task_id, key in pushed if task_id == "loud"} >= {"ecs_task_arn", "return_value"}


def xcoms(run) -> set[tuple[str, str]]:
    """(task_id, key) of every XCom the run stored in Airflow's database."""
    from airflow.utils.session import create_session

    if AIRFLOW_MAJOR >= 3:
        from airflow.models.xcom import XComModel as XCom
    else:
        from airflow.models.xcom import XCom
    with create_session() as session:
        rows = session.query(XCom.task_id, XCom.key).filter(XCom.dag_id == run.dag_id, XCom.run_id == run.run_id)
        return {(task_id, key) for task_id, key in rows}
