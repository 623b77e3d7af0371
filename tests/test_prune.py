"""`ecsflow prune`: the pure planner, then the command end to end through the CLI against moto's server behind
the counting, paging, fault-injecting proxy (tests/ecs_server.py), with families of hundreds of revisions, pages
of them (registered straight into the server's moto backend, which runs in this process: the HTTP path is
slower), one used by an ECS service and one by a running task (the local task runner runs it). Thousands of
revisions: benchmarks/prune.py."""

import json
import math
import shutil

import moto.backends
import pytest
from cli_runner import ecsflow
from ecs_server import EcsEndpoint, dummy_credentials_env

from ecsflow import operations
from ecsflow.prune import DEFAULT_KEEP, Kept, find_orphans, plan_family, revision_ranges, without_newly_used
from ecsflow.tags import managed_tags

REGION, ACCOUNT, CLUSTER = "eu-west-1", "123456789012", "data-jobs"  # the example's settings
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}  # ECS wants one for a Fargate (awsvpc) service
LIST, DEREGISTER, DELETE = "ListTaskDefinitions", "DeregisterTaskDefinition", "DeleteTaskDefinitions"


# ---------------------------------------------------------------------------------------------------------
# the planner


def test_the_newest_n_and_what_is_in_use_are_kept_and_the_rest_deregistered():
    plan = plan_family("api", "etl-api", range(1, 21), [], {3: ("service api",), 19: ("task 1a2b",)}, keep=5)
    assert plan.deregister == (1, 2, *range(4, 16))
    assert [(k.revision, k.reasons) for k in plan.kept] == [
        (20, ("newest 5",)), (19, ("newest 5", "in use by task 1a2b")), (18, ("newest 5",)), (17, ("newest 5",)),
        (16, ("newest 5",)), (3, ("in use by service api",))]
    assert plan.delete == () and plan.status == "planned"


def test_delete_takes_the_inactive_and_the_deregistered_but_never_one_in_use():
    plan = plan_family("api", "etl-api", [7, 8, 9], [1, 2, 3, 4], {2: ("task 9f",), 7: ("service api",)}, keep=1,
                       delete=True)
    assert plan.deregister == (8,)
    assert plan.delete == (1, 3, 4, 8)
    assert [k.revision for k in plan.kept] == [9, 7, 2]


def test_the_latest_is_kept_whatever_keep_says():
    assert plan_family("a", "f", [4], [], {}, keep=1).deregister == ()
    assert plan_family("a", "f", [1, 2, 3], [], {}, keep=10).deregister == ()
    with pytest.raises(ValueError, match="at least 1"):
        plan_family("a", "f", [1, 2], [], {}, keep=0)
    assert plan_family("a", "f", [], [1, 2], {}, delete=True).status == "missing"
    assert DEFAULT_KEEP == 5


def test_a_pinned_revision_is_kept_whatever_its_age_and_never_deleted():
    plan = plan_family("api", "etl-api", range(3, 11), [1, 2], {}, keep=2, delete=True,
                       pinned={1: ("dags/a_tasks.py",), 4: ("dags/a_tasks.py", "dags/b_tasks.py")})
    assert plan.deregister == (3, 5, 6, 7, 8) and plan.delete == (2, 3, 5, 6, 7, 8)
    assert [(k.revision, k.reasons) for k in plan.kept] == [
        (10, ("newest 2",)), (9, ("newest 2",)), (4, ("pinned by dags/a_tasks.py", "pinned by dags/b_tasks.py")),
        (1, ("pinned by dags/a_tasks.py",))]


def test_a_revision_used_since_the_plan_is_taken_out_of_it():
    plan = plan_family("a", "f", range(1, 11), [], {}, keep=2, delete=True)
    trimmed, newly = without_newly_used(plan, {4: ("service web",), 9: ("task x",)})
    assert 4 not in trimmed.deregister and 4 not in trimmed.delete and set(trimmed.deregister) == {1, 2, 3, 5, 6,
                                                                                                  7, 8}
    assert newly == (Kept(4, ("in use by service web (since the plan)",)),)  # 9 was kept already
    assert without_newly_used(plan, {}) == (plan, ())


def test_revision_ranges_are_short_for_thousands():
    assert revision_ranges([*range(1, 37), *range(38, 1996), 1998]) == "1-36, 38-1995, 1998"
    assert revision_ranges([]) == "" and revision_ranges([5]) == "5"


def test_an_orphan_is_a_family_of_the_project_that_no_service_makes_now():
    latest = {
        "shop-app": managed_tags("shop", "app"),  # made now
        "shop-worker": managed_tags("shop", "worker"),  # its service is gone
        "shop-proxy": managed_tags("shop", "proxy"),  # its service is a sidecar of app now
        "shop-api-v1": managed_tags("shop", "api"),  # its service makes shop-api now
        "shop-setup": managed_tags("shop", "setup"),  # its service is in a profile not enabled
        "shop-legacy": managed_tags("shop", "legacy"),  # x-ecsflow.skip
        "shop-other": managed_tags("other", "worker"),  # another project's
        "shop-hand": {"ecsflow:project": "shop", "ecsflow:service": "worker"},  # not ecsflow's: no managed tag
    }
    found = find_orphans(latest, "shop", makes={"app": "shop-app", "api": "shop-api"},
                         services={"app", "api", "proxy", "setup", "legacy"}, main_of={"proxy": "app"})
    assert [(o.family, o.service, o.why) for o in found] == [
        ("shop-api-v1", "api", "service 'api' makes family 'shop-api' now"),
        ("shop-proxy", "proxy", "service 'proxy' is now a container of the task of 'app'"),
        ("shop-worker", "worker", "service 'worker' is no longer in the compose file"),
    ]


def test_an_orphan_keeps_no_newest_revision_only_what_is_in_use_or_pinned():
    plan = plan_family("worker", "shop-worker", [1, 2, 3, 4], [], {2: ("service legacy",)}, keep=5,
                       pinned={4: ("dags/shop.py",)}, orphan="service 'worker' is no longer in the compose file")
    assert plan.deregister == (1, 3)
    assert [(k.revision, k.reasons) for k in plan.kept] == [(4, ("pinned by dags/shop.py",)),
                                                            (2, ("in use by service legacy",))]
    assert plan_family("worker", "shop-worker", [1, 2, 3, 4], [], {}, keep=5).deregister == ()  # not an orphan


# ---------------------------------------------------------------------------------------------------------
# the command against the server


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    with EcsEndpoint(run_tasks=True, workdir=tmp_path_factory.mktemp("tasks"), region=REGION) as running:
        yield running


@pytest.fixture
def ecs(endpoint):
    endpoint.reset()
    endpoint.create_cluster(CLUSTER)
    endpoint.reset_counts()
    return endpoint


@pytest.fixture
def compose(etl_project):
    return etl_project / "docker-compose.yml"


def prune_json(ecs, compose, *args, expect=0):
    result = ecsflow("prune", "--format", "json", *args, file=compose, endpoint=ecs, expect=expect)
    return result, json.loads(result.stdout)


def backend():
    return moto.backends.get_backend("ecs")[ACCOUNT][REGION]


def register_old(family, count, *, command=("python", "-m", "job")):
    """``count`` revisions of ``family`` straight into moto (what a team that registered on every deploy has)."""
    for _ in range(count):
        backend().register_task_definition(
            family=family, requires_compatibilities=["FARGATE"], network_mode="awsvpc", cpu="256", memory="512",
            container_definitions=[{"name": "job", "image": "old/job:1", "command": list(command)}])


def revisions(ecs, family, status="ACTIVE"):
    arns = [a for page in ecs.client("ecs").get_paginator("list_task_definitions").paginate(
        familyPrefix=family, status=status) for a in page["taskDefinitionArns"]]
    return sorted(int(a.rsplit(":", 1)[1]) for a in arns)


def family_entry(report, family):
    return next(f for f in report["families"] if f["family"] == family)


def test_hundreds_of_revisions_one_used_by_a_service_one_by_a_running_task(ecs, compose):
    register_old("etl-extract", 248)
    register_old("etl-extract", 1, command=("python", "-c", "import time; time.sleep(60)"))  # revision 249
    ecsflow("sync", file=compose, endpoint=ecs)  # revision 250, tagged ecsflow:managed, and 1 of the others
    client = ecs.client("ecs")
    client.create_service(cluster=CLUSTER, serviceName="legacy", taskDefinition="etl-extract:37", desiredCount=0,
                          networkConfiguration=NETWORK)
    task = client.run_task(cluster=CLUSTER, taskDefinition="etl-extract:249", launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}})["tasks"][0]
    ecs.reset_counts()

    _, report = prune_json(ecs, compose)
    extract = family_entry(report, "etl-extract")
    assert extract["active"] == 250 and report["executed"] is False
    assert extract["deregister"] == [*range(1, 37), *range(38, 246)]
    assert {k["revision"]: k["reasons"] for k in extract["keep"]} == {
        250: ["newest 5"], 249: ["newest 5", f"in use by task {task['taskArn'].rsplit('/', 1)[1]}"],
        248: ["newest 5"], 247: ["newest 5"], 246: ["newest 5"], 37: ["in use by service legacy"]}
    assert [f["deregister"] for f in report["families"] if f["family"] != "etl-extract"] == [[], [], []]
    # The plan changed nothing; ListTaskDefinitions was paged as ECS pages it (100 a page).
    assert DEREGISTER not in ecs.calls and ecs.calls[LIST] == math.ceil(250 / 100) + 3
    assert revisions(ecs, "etl-extract") == list(range(1, 251))

    ecs.reset_counts()
    _, report = prune_json(ecs, compose, "--yes")
    outcome = family_entry(report, "etl-extract")["outcome"]
    assert outcome["deregistered"] == extract["deregister"] and outcome["failed"] == outcome["skipped"] == []
    assert ecs.calls[DEREGISTER] == len(extract["deregister"]) and ecs.max_in_flight <= 8
    # Exactly what the plan showed: the kept ones are still ACTIVE, the others INACTIVE.
    assert revisions(ecs, "etl-extract") == [37, 246, 247, 248, 249, 250]
    assert revisions(ecs, "etl-extract", "INACTIVE") == extract["deregister"]

    ecs.reset_counts()
    _, report = prune_json(ecs, compose, "--yes")  # converges: nothing left to do
    assert report["counts"]["deregister"] == 0 and DEREGISTER not in ecs.calls


def test_the_family_of_a_service_removed_from_the_file_is_said_and_pruned_with_orphans(ecs, compose):
    """A service removed from the compose file leaves its family in ECS: prune names it, and with --orphans
    deregisters its revisions, all but the one a service of the cluster uses. Another project's family and one
    ecsflow did not make, under the same prefix, are never touched."""
    ecsflow("sync", file=compose, endpoint=ecs)
    register_old("etl-load", 2)  # revisions 2 and 3, made by hand: the latest (3) is not ecsflow's
    ecsflow("sync", file=compose, endpoint=ecs)  # revision 4 of etl-load, ecsflow's again
    client = ecs.client("ecs")
    client.create_service(cluster=CLUSTER, serviceName="legacy", taskDefinition="etl-load:2", desiredCount=0,
                          networkConfiguration=NETWORK)
    for family, tags in (("etl-elsewhere", managed_tags("warehouse", "load")), ("etl-by-hand", {})):
        tagged = {"tags": [{"key": k, "value": v} for k, v in tags.items()]} if tags else {}
        client.register_task_definition(family=family, **tagged,
                                        containerDefinitions=[{"name": "x", "image": "x", "memory": 128}])
    text = compose.read_text()
    start = text.index("\n  load:\n") + 1
    compose.write_text(text[:start] + text[text.index("\n  api:\n") + 1:])  # the service load is gone

    result, report = prune_json(ecs, compose)
    assert [f["family"] for f in report["families"]] == ["etl-extract", "etl-transform", "etl-api"]
    assert "1 family(ies) of project 'etl' that no service makes now: etl-load (service 'load' is no longer in " \
           "the compose file): `ecsflow prune --orphans`" in result.stderr

    _, report = prune_json(ecs, compose, "--orphans")
    load = family_entry(report, "etl-load")
    assert load["orphan"] == "service 'load' is no longer in the compose file" and load["service"] == "load"
    assert load["deregister"] == [1, 3, 4] and [k["revision"] for k in load["keep"]] == [2]
    assert revisions(ecs, "etl-load") == [1, 2, 3, 4]  # a plan changes nothing

    _, report = prune_json(ecs, compose, "--orphans", "--yes")
    assert family_entry(report, "etl-load")["outcome"]["deregistered"] == [1, 3, 4]
    assert revisions(ecs, "etl-load") == [2]
    assert revisions(ecs, "etl-elsewhere") == [1] and revisions(ecs, "etl-by-hand") == [1]
    assert all(revisions(ecs, f) == [1] for f in ("etl-extract", "etl-transform", "etl-api"))
    result = ecsflow("prune", "--orphans", "extract", file=compose, endpoint=ecs, expect=1)
    assert "--orphans looks at the whole project" in result.stderr


def test_delete_removes_inactive_revisions_ten_a_call_and_converges(ecs, compose):
    register_old("etl-load", 254)
    for revision in range(1, 201):
        backend().deregister_task_definition(f"etl-load:{revision}")
    ecsflow("sync", file=compose, endpoint=ecs)  # revision 255
    _, plan = prune_json(ecs, compose, "--delete", "load")
    load = family_entry(plan, "etl-load")
    assert (load["active"], load["inactive"]) == (55, 200)
    assert load["deregister"] == list(range(201, 251)) and load["delete"] == list(range(1, 251))

    ecs.reset_counts()
    text = ecsflow("prune", "--delete", "--yes", "load", file=compose, endpoint=ecs)
    assert "etl-load: deregistered 50: 201-250" in text.stdout and "etl-load: deleted 250: 1-250" in text.stdout
    assert ecs.calls[DELETE] == 25 and ecs.calls[DEREGISTER] == 50
    assert revisions(ecs, "etl-load") == [251, 252, 253, 254, 255]
    assert revisions(ecs, "etl-load", "INACTIVE") == []
    again = ecsflow("prune", "--delete", "load", file=compose, endpoint=ecs)
    assert "nothing to prune" in again.stdout and "Nothing to prune" in again.stdout


def test_the_text_plan_explains_each_family_and_changes_nothing(ecs, compose):
    register_old("etl-api", 12)
    ecsflow("sync", file=compose, endpoint=ecs)
    ecs.client("ecs").create_service(cluster=CLUSTER, serviceName="metrics", taskDefinition="etl-api:2",
                                     desiredCount=0, networkConfiguration=NETWORK)
    result = ecsflow("prune", "--keep", "3", file=compose, endpoint=ecs)
    lines = result.stdout.splitlines()
    assert "etl-api (service api): 13 ACTIVE" in lines
    assert "    keep 11-13: newest 3" in lines and "    keep 2: in use by service metrics" in lines
    assert "    deregister 9: 1, 3-10" in lines
    assert "etl-extract (service extract): 1 ACTIVE, nothing to prune" in lines
    assert lines[-2:] == ["Plan: deregister 9 revision(s) of 1 family(ies) (in use: cluster data-jobs).",
                          "Nothing changed: run again with --yes to do it."]
    assert DEREGISTER not in ecs.calls


def test_unmanaged_families_are_left_alone_unless_all(ecs, compose):
    register_old("etl-transform", 8)  # registered by hand: no ecsflow:managed tag on the latest
    _, report = prune_json(ecs, compose, "transform")
    transform = family_entry(report, "etl-transform")
    assert transform["status"] == "unmanaged" and transform["deregister"] == [] and "--all" in transform["detail"]
    _, report = prune_json(ecs, compose, "--all", "--yes", "transform")
    assert family_entry(report, "etl-transform")["outcome"]["deregistered"] == [1, 2, 3]


def test_a_family_not_in_ecs_is_one_line_and_the_others_are_pruned(ecs, compose):
    register_old("etl-api", 7)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    result = ecsflow("prune", "--yes", file=compose, endpoint=ecs)
    assert "etl-extract (service extract): not in ECS (no ACTIVE revision): nothing to prune" in result.stdout
    assert "etl-api: deregistered 3: 1-3" in result.stdout


def test_access_denied_on_one_family_is_its_line_and_the_others_are_still_pruned(ecs, compose):
    register_old("etl-api", 7)
    register_old("etl-load", 7)
    ecsflow("sync", file=compose, endpoint=ecs)
    ecs.fail("DescribeTaskDefinition", "AccessDeniedException", "User: ci is not authorized to perform: "
             "ecs:DescribeTaskDefinition", family="etl-load")
    _, report = prune_json(ecs, compose, "--yes", expect=1)
    load = family_entry(report, "etl-load")
    assert load["status"] == "error" and "not authorized" in load["detail"] and "hint" in load["detail"]
    assert family_entry(report, "etl-api")["outcome"]["deregistered"] == [1, 2, 3]
    assert revisions(ecs, "etl-load") == list(range(1, 9))  # nothing of it touched


def test_a_deregistration_that_fails_is_reported_the_others_are_done_and_a_rerun_converges(ecs, compose):
    register_old("etl-api", 9)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.fail(DEREGISTER, "ClientException", "The specified task definition is in use.", family="etl-api:2")
    result = ecsflow("prune", "--yes", "api", file=compose, endpoint=ecs, expect=1)
    assert "etl-api: failed 2: DeregisterTaskDefinition: ClientException: The specified task definition is in use." \
        in result.stdout
    assert "etl-api: deregistered 4: 1, 3-5" in result.stdout
    ecs.faults.clear()
    ecs.reset_counts()
    rerun = ecsflow("prune", "--yes", "api", file=compose, endpoint=ecs)
    assert "etl-api: deregistered 1: 2" in rerun.stdout and ecs.calls[DEREGISTER] == 1


def test_a_dropped_connection_on_delete_reports_each_revision_and_what_was_done(ecs, compose):
    """Revisions 1-4 are deregistered, then DeleteTaskDefinitions loses its connection (each try): the JSON
    document still comes, with what was deregistered and why each deletion failed; exit 1."""
    register_old("etl-api", 8)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.fail(DELETE, kind="drop")
    result, report = prune_json(ecs, compose, "--yes", "--delete", "api", expect=1)
    outcome = family_entry(report, "etl-api")["outcome"]
    assert outcome["deregistered"] == [1, 2, 3, 4] and outcome["deleted"] == []
    assert [f["revision"] for f in outcome["failed"]] == [1, 2, 3, 4]
    error = outcome["failed"][0]["error"]
    assert "closed the connection before answering" in error and "may have been deleted" in error
    assert revisions(ecs, "etl-api", "INACTIVE") == [1, 2, 3, 4]  # what the report says
    assert "unexpected" not in result.stderr and "Traceback" not in result.output


def test_a_delete_whose_answer_was_lost_converges_when_run_again(ecs, compose):
    register_old("etl-api", 8)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.fail(DELETE, kind="drop", forward=True, times=2)  # ECS deletes; the answer is lost, twice
    result = ecsflow("prune", "--yes", "--delete", "api", file=compose, endpoint=ecs, expect=1)
    assert "etl-api: deregistered 4: 1-4" in result.stdout and "may have been deleted" in result.stdout
    _, report = prune_json(ecs, compose, "--yes", "--delete", "api")
    assert report["counts"] == {"deregister": 0, "delete": 0, "families": 0, "errors": 0}


def test_a_connection_lost_while_deregistering_stops_sending_and_says_what_was_done(ecs, compose):
    register_old("etl-api", 8)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.fail(DEREGISTER, kind="drop", skip=2)  # the first two go through, then the network is gone
    ecs.reset_counts()
    _, report = prune_json(ecs, compose, "--yes", "--concurrency", "1", "api", expect=1)
    outcome = family_entry(report, "etl-api")["outcome"]
    assert outcome["deregistered"] == [1, 2]
    failed = {f["revision"]: f["error"] for f in outcome["failed"]}
    assert sorted(failed) == [3, 4] and "closed the connection before answering" in failed[3]
    assert failed[4].startswith("not attempted: ECS at ")  # not sent: it would fail alike
    assert ecs.calls[DEREGISTER] == 2 + 2  # revision 3's two tries; nothing for revision 4
    assert revisions(ecs, "etl-api") == [3, 4, 5, 6, 7, 8, 9]


def test_throttling_is_retried_and_nothing_is_lost(ecs, compose, no_retry_waits):
    register_old("etl-api", 30)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.fail(LIST, "ThrottlingException", "Rate exceeded", times=2)
    ecs.fail(DEREGISTER, "ThrottlingException", "Rate exceeded", times=5)
    ecs.fail("ListServices", "ThrottlingException", "Rate exceeded", times=1)
    _, report = prune_json(ecs, compose, "--yes", "api")
    assert family_entry(report, "etl-api")["outcome"]["deregistered"] == list(range(1, 27))
    assert ecs.calls[DEREGISTER] == 26 + 5
    assert revisions(ecs, "etl-api") == list(range(27, 32))


def test_nothing_is_deregistered_that_came_into_use_after_the_plan(ecs, compose, monkeypatch):
    """The plan shown is what is executed, less what a deployment started using in between."""
    for name, value in dummy_credentials_env().items():
        monkeypatch.setenv(name, value)
    register_old("etl-api", 10)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    shown = []

    def deploy_an_old_revision(plan):
        shown.append(plan)
        ecs.client("ecs").create_service(cluster=CLUSTER, serviceName="rollback", taskDefinition="etl-api:4",
                                         desiredCount=0, networkConfiguration=NETWORK)

    options = operations.ProjectOptions(files=(compose,))
    aws = operations.AwsFlags(endpoint_url=ecs.url)
    result = operations.prune(options, aws, ("api",), operations.PruneOptions(execute=True),
                              operations.PruneCallbacks(planned=deploy_an_old_revision))
    [api] = shown[0].families
    assert api.deregister == (1, 2, 3, 4, 5, 6)
    outcome = result.outcomes["etl-api"]
    assert outcome.deregistered == (1, 2, 3, 5, 6)
    assert outcome.skipped == ((4, "in use by service rollback (since the plan)"),)
    assert revisions(ecs, "etl-api") == [4, 7, 8, 9, 10, 11]


def test_a_missing_cluster_is_an_error_before_anything_is_deregistered(ecs, compose):
    register_old("etl-api", 9)
    ecsflow("sync", "api", file=compose, endpoint=ecs)
    ecs.reset_counts()
    result = ecsflow("prune", "--yes", "--cluster", "no-such-cluster", file=compose, endpoint=ecs, expect=1)
    assert "the ECS cluster 'no-such-cluster' does not exist" in result.stderr and "--cluster" in result.stderr
    assert "Traceback" not in result.output and DEREGISTER not in ecs.calls


def test_keep_must_be_at_least_one(ecs, compose):
    ecsflow("prune", "--keep", "0", file=compose, endpoint=ecs, expect=2)
    assert sum(ecs.calls.values()) == 0


def test_prune_in_the_sandbox_persists_between_commands(etl_project, monkeypatch):
    monkeypatch.chdir(etl_project)
    compose = etl_project / "docker-compose.yml"
    for tag in range(1, 8):  # seven syncs, seven revisions of etl-api
        text = compose.read_text()
        compose.write_text(text.replace("etl/metrics-api:2.3.0", f"etl/metrics-api:2.3.{tag}").replace(
            f"etl/metrics-api:2.3.{tag - 1}", f"etl/metrics-api:2.3.{tag}"))
        ecsflow("sync", "--sandbox", "api")
    result = ecsflow("prune", "--sandbox", "--keep", "2", "--yes", "api")
    assert "etl-api: deregistered 5: 1-5" in result.stdout and "no revision is in use" in result.stderr
    again = ecsflow("prune", "--sandbox", "--keep", "2", "--delete", "--yes", "api")
    assert "etl-api: deleted 5: 1-5" in again.stdout, again.output
    last = ecsflow("prune", "--sandbox", "--keep", "2", "--delete", "--format", "json", "api")
    api = family_entry(json.loads(last.stdout), "etl-api")
    assert (api["active"], api["inactive"], api["delete"]) == (2, 0, [])
    diff = ecsflow("diff", "--sandbox", "--exit-code", "--no-services", "api")
    assert "No changes" in diff.stdout


# ---------------------------------------------------------------------------------------------------------
# revisions that generated DAGs pin (gen-dag --pin)


def sync_a_change(ecs, compose, page_size):
    """A change of the extract service, synced: a new revision of etl-extract."""
    text = compose.read_text()
    compose.write_text(text.replace('PAGE_SIZE: "500"', f'PAGE_SIZE: "{page_size}"'))
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    compose.write_text(text)


def test_a_revision_a_generated_dag_pins_is_never_deregistered_or_deleted(ecs, compose, etl_project, monkeypatch):
    """After gen-dag --pin, later syncs make the pinned revision old: prune keeps it (gen-dag remembered the
    folder), says which DAG file keeps it, and --delete does not delete it; the DAG can still start its task."""
    monkeypatch.chdir(etl_project)
    ecsflow("sync", file=compose, endpoint=ecs)  # etl-extract:1
    ecsflow("gen-dag", "--out", "dags", "--pin", file=compose, endpoint=ecs)
    assert "task-definition/etl-extract:1" in (etl_project / "dags" / "etl_tasks.py").read_text()
    for page_size in (600, 700, 800):
        sync_a_change(ecs, compose, page_size)  # etl-extract:2, 3, 4

    text = ecsflow("prune", "--keep", "1", "--delete", "extract", file=compose, endpoint=ecs)
    assert "    keep 1: pinned by dags/etl_tasks.py" in text.stdout.splitlines()
    assert "    deregister 2: 2-3" in text.stdout.splitlines()
    _, plan = prune_json(ecs, compose, "--keep", "1", "--delete", "extract")
    extract = family_entry(plan, "etl-extract")
    assert {k["revision"]: k["reasons"] for k in extract["keep"]} == {4: ["latest"], 1: ["pinned by dags/etl_tasks.py"]}
    assert extract["deregister"] == [2, 3] and extract["delete"] == [2, 3]

    _, report = prune_json(ecs, compose, "--keep", "1", "--delete", "--yes", "extract")
    assert family_entry(report, "etl-extract")["outcome"]["deleted"] == [2, 3]
    assert revisions(ecs, "etl-extract") == [1, 4]
    client = ecs.client("ecs")
    task = client.run_task(cluster=CLUSTER, taskDefinition=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/"
                           "etl-extract:1", launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}})
    assert task["tasks"] and not task["failures"]


def test_dags_named_with_dags_are_read_and_a_recorded_folder_that_is_gone_is_a_note(ecs, compose, etl_project,
                                                                                      monkeypatch, tmp_path):
    monkeypatch.chdir(etl_project)
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    elsewhere = tmp_path / "airflow" / "dags"
    ecsflow("gen-dag", "--out", str(elsewhere / "team" / "etl"), "--pin", "extract", file=compose, endpoint=ecs)
    assert json.loads((etl_project / ".ecsflow" / "dags.json").read_text()) == {
        "folders": [str(elsewhere / "team" / "etl")]}
    shutil.move(elsewhere / "team", tmp_path / "deployed")  # the DAGs moved where Airflow reads them
    sync_a_change(ecs, compose, 600)

    result, plan = prune_json(ecs, compose, "--keep", "1", "--dags", str(tmp_path / "deployed"), "extract")
    reasons = {k["revision"]: k["reasons"] for k in family_entry(plan, "etl-extract")["keep"]}
    assert reasons == {2: ["latest"], 1: [f"pinned by {tmp_path / 'deployed' / 'etl' / 'etl_tasks.py'}"]}
    assert f"{elsewhere / 'team' / 'etl'}, where gen-dag wrote DAGs" in result.stderr
    assert any("is gone" in note for note in plan["notes"])
    _, plan = prune_json(ecs, compose, "--keep", "1", "extract")  # nothing tells prune where they are now
    assert family_entry(plan, "etl-extract")["deregister"] == [1]
    missing = ecsflow("prune", "--dags", str(tmp_path / "nowhere"), file=compose, endpoint=ecs, expect=1)
    assert "--dags" in missing.stderr and "is not a folder" in missing.stderr


def test_a_pinned_revision_no_longer_active_is_said(ecs, compose, etl_project, monkeypatch):
    monkeypatch.chdir(etl_project)
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    ecsflow("gen-dag", "--out", "dags", "--pin", "extract", file=compose, endpoint=ecs)
    sync_a_change(ecs, compose, 600)
    ecs.client("ecs").deregister_task_definition(taskDefinition="etl-extract:1")  # by someone else
    result = ecsflow("prune", "extract", file=compose, endpoint=ecs)
    assert "dags/etl_tasks.py pins etl-extract:1, which is not ACTIVE in ECS: the DAG cannot start it" in (
        result.stderr)


def test_a_record_that_cannot_be_written_is_a_warning_and_a_bad_record_an_error(ecs, compose, etl_project,
                                                                                 monkeypatch):
    monkeypatch.chdir(etl_project)
    (etl_project / ".ecsflow").write_text("in the way\n")
    written = ecsflow("gen-dag", "--out", "dags", file=compose, endpoint=ecs)
    assert (etl_project / "dags" / "etl.py").exists()
    assert "cannot record dags in" in written.stderr and "--dags dags" in written.stderr
    (etl_project / ".ecsflow").unlink()
    (etl_project / ".ecsflow").mkdir()
    (etl_project / ".ecsflow" / "dags.json").write_text("{not json")
    result = ecsflow("prune", "--yes", file=compose, endpoint=ecs, expect=1)
    assert "dags.json is not gen-dag's record of DAG folders" in result.stderr
    assert "Traceback" not in result.output and DEREGISTER not in ecs.calls


def test_the_files_gen_dag_wrote_are_found_by_their_header_and_read_as_text(tmp_path):
    from ecsflow.airflow.files import protect
    from ecsflow.airflow.pins import find_pins

    arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-load:{}"
    deep = tmp_path / "dags" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "etl_tasks.py").write_text(protect(["# Generated by `ecsflow gen-dag`"], f"x = {arn.format(7)!r}\n"))
    edited = protect(["# Generated by `ecsflow gen-dag`"], f"x = {arn.format(8)!r}\n") + "raise SystemExit  # :(\n"
    (deep / "edited_tasks.py").write_text(edited)
    (deep / "mine.py").write_text(f"x = {arn.format(9)!r}\n")  # no header: not gen-dag's
    (tmp_path / "dags" / ".git").mkdir()
    (tmp_path / "dags" / ".git" / "x.py").write_text(protect([], f"x = {arn.format(10)!r}\n"))
    pins = find_pins([], [tmp_path / "dags"])
    assert set(pins.files) == {("etl-load", 7), ("etl-load", 8)}
    assert pins.of("etl-load")[7] == (str(deep / "etl_tasks.py"),)


def test_a_dags_folder_that_is_a_whole_disk_is_refused_and_an_unreadable_file_stops_prune(tmp_path, monkeypatch):
    from ecsflow.airflow import pins
    from ecsflow.errors import EcsflowError

    monkeypatch.setattr(pins, "MAX_FILES", 30)
    for index in range(40):
        (tmp_path / "big" / str(index)).mkdir(parents=True)
    with pytest.raises(EcsflowError, match="more than 30 files and folders under"):
        pins.find_pins([], [tmp_path / "big"])
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "x_tasks.py").mkdir()  # not a file: nothing to read
    (tmp_path / "dags" / "loop_tasks.py").symlink_to(tmp_path / "dags")
    assert pins.find_pins([], [tmp_path / "dags"]).files == {}
    # A file whose reading fails (even root gets EIO from /proc/self/mem at offset 0): what it pins is unknown.
    (tmp_path / "dags" / "etl_tasks.py").symlink_to("/proc/self/mem")
    with pytest.raises(EcsflowError, match="cannot read .*etl_tasks.py.*prune cannot tell which revisions it pins"):
        pins.find_pins([], [tmp_path / "dags"])


def test_orphans_in_the_sandbox_spare_the_services_the_file_leaves_out(tmp_path):
    """A service in a profile not enabled, or skipped, keeps its family (it may come back); a service made a
    sidecar, or removed, leaves an orphan. In the sandbox, as a new user would try it."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "name: shop\nx-ecsflow: {execution_role: 'arn:aws:iam::123456789012:role/exec'}\nservices:\n"
        "  app:\n    image: acme/app:1\n  worker:\n    image: acme/worker:1\n  proxy:\n    image: nginx:1\n"
        "  legacy:\n    image: acme/legacy:1\n  setup:\n    image: acme/setup:1\n    profiles: [setup]\n")
    ecsflow("sync", "--sandbox", "--profile", "setup", file=compose)
    text = compose.read_text().replace("  worker:\n    image: acme/worker:1\n", "")
    text = text.replace("image: nginx:1\n", "image: nginx:1\n    network_mode: service:app\n")
    compose.write_text(text.replace("image: acme/legacy:1\n", "image: acme/legacy:1\n    x-ecsflow: {skip: true}\n"))
    done = ecsflow("prune", "--sandbox", "--orphans", "--yes", "--format", "json", file=compose)
    report = json.loads(done.stdout)
    assert {f["family"]: f["outcome"]["deregistered"] for f in report["families"] if f["orphan"]} == {
        "shop-proxy": [1], "shop-worker": [1]}
    again = json.loads(ecsflow("prune", "--sandbox", "--orphans", "--format", "json", file=compose).stdout)
    assert [f["family"] for f in again["families"]] == ["shop-app"]  # the orphans have no ACTIVE revision left
    # the left-out services come back: their families are as they were (app's has the proxy in it now)
    compose.write_text(compose.read_text().replace("    x-ecsflow: {skip: true}\n", ""))
    described = ecsflow("diff", "--sandbox", "--profile", "setup", "--format", "json", file=compose)
    assert {f["family"]: f["status"] for f in json.loads(described.stdout)["families"]} == {
        "shop-app": "changed", "shop-legacy": "unchanged", "shop-setup": "unchanged"}


def test_a_role_without_list_task_definition_families_still_prunes_and_says_orphans_were_not_looked_for(ecs, compose):
    ecsflow("sync", file=compose, endpoint=ecs)
    ecs.fail("ListTaskDefinitionFamilies", "AccessDeniedException", "not authorized to perform: "
             "ecs:ListTaskDefinitionFamilies")
    result, report = prune_json(ecs, compose)
    assert [f["status"] for f in report["families"]] == ["planned"] * 4
    assert any(note.startswith("orphaned families were not looked for: ") and "ListTaskDefinitionFamilies" in note
               for note in report["notes"])
    result = ecsflow("prune", "--orphans", file=compose, endpoint=ecs, expect=1)  # asked for: an error
    assert "ListTaskDefinitionFamilies" in result.stderr and "Traceback" not in result.output
