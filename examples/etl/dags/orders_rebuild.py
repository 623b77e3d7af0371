"""Rebuild one day of orders from scratch: a DAG written by hand around the generated task factories.

`ecsflow gen-dag` writes etl_tasks.py (one function per compose service, each returning its configured
EcsRunTaskOperator) and never touches this file. The ECS tasks mix with the team's own Python tasks; each
factory takes task_id, environment, command, pool, pool_slots, retries, retry_delay, execution_timeout and any
other EcsRunTaskOperator argument. Runs on Airflow 2.10+ and 3.x.
"""

import pendulum
from etl_tasks import extract, load, params, transform

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.10+
    from airflow.decorators import task
    from airflow.models.dag import DAG

DAY = "{{ ti.xcom_pull(task_ids='pick_day') }}"

with DAG(
    dag_id="orders_rebuild",
    description="Rebuild one day of orders (full refresh), then report",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    params=params(),  # RUN_DATE and FULL_REFRESH, as in the generated DAG
    tags=["etl"],
):

    @task
    def pick_day(**context) -> str:
        """The day to rebuild: RUN_DATE when the trigger form gives one, else the day before the run's."""
        given = context["params"].get("RUN_DATE")
        return given or context["macros"].ds_add(context["ds"], -1)

    @task(trigger_rule="all_done")
    def report(**context) -> None:
        """A notification once the rebuild ends, however it ended (here a log line; a team posts to chat)."""
        print(f"orders_rebuild of {context['ti'].xcom_pull(task_ids='pick_day')} finished")

    day = pick_day()
    returns = extract(
        task_id="extract_returns",
        command=["python", "-m", "etl.extract", "--source", "returns", "--to", "s3://acme-raw/returns/"],
    )
    orders = extract()
    clean = transform(environment={"RUN_DATE": DAY, "FULL_REFRESH": "true"}, retries=0)
    loaded = load(pool_slots=2)

    day >> [returns, orders] >> clean >> loaded >> report()
