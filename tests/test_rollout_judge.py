"""A rollout judged by the id of the deployment ecsflow started (ecsflow/service/rollout.py), on DescribeServices
items in the shape real ECS gives (tests/service_answers.py): success only when that deployment completes, a
circuit-breaker rollback is `rolled-back` (not "stable"), a deployment someone else started is `superseded`,
a concurrent deploy of the same revision is followed, and each event is reported once."""

from __future__ import annotations

from service_answers import deployment, event, service_item

from ecsflow.service.rollout import Tracked, event_ids, failure_events, judge, new_events

OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:6"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:7"
REQUEST = {"cluster": "default", "serviceName": "shop-api", "taskDefinition": NEW, "desiredCount": 2,
           "launchType": "FARGATE", "tags": [{"key": "ecsflow:managed", "value": "true"}]}
BREAKER = "ECS deployment circuit breaker: tasks failed to start."
TRACKED = Tracked("ecs-svc/2", NEW, OLD, before="ecs-svc/1", rollback=True)


def item(*deployments, events=()):
    return service_item(REQUEST, list(deployments), events=list(events))


def test_the_tracked_deployment_completing_is_success():
    verdict = judge(item(deployment("ecs-svc/2", NEW, rollout="COMPLETED", running=2, desired=2),
                         deployment("ecs-svc/1", OLD, status="ACTIVE", rollout="COMPLETED", running=0, desired=0)),
                    TRACKED)
    assert verdict.state == "completed" and verdict.counts.line() == "2/2 running (COMPLETED)"


def test_in_progress_is_waiting_with_its_counts():
    verdict = judge(item(deployment("ecs-svc/2", NEW, running=1, desired=2, failed=1),
                         deployment("ecs-svc/1", OLD, status="ACTIVE", rollout="COMPLETED", running=2, desired=2)),
                    TRACKED)
    assert verdict.state == "waiting"
    assert verdict.counts.line() == "1/2 running, 1 pending, 1 failed (IN_PROGRESS)"


def test_a_circuit_breaker_rollback_is_rolled_back_once_ecs_rollback_completes_never_success():
    failed = deployment("ecs-svc/2", NEW, status="ACTIVE", rollout="FAILED", failed=3,
                        reason="ECS deployment circuit breaker: tasks failed to start.")
    rolling_back = deployment("ecs-svc/3", OLD, running=1, desired=2)
    first = judge(item(rolling_back, failed), TRACKED)
    assert first.state == "waiting"
    assert first.tracked.failed_reason == "ECS deployment circuit breaker: tasks failed to start."
    done = judge(item(deployment("ecs-svc/3", OLD, rollout="COMPLETED", running=2, desired=2), failed), first.tracked)
    assert (done.state, done.reason) == ("rolled-back", "ECS deployment circuit breaker: tasks failed to start.")
    # The same answers, read by "is the service stable?", would have said yes: running == desired, one PRIMARY.


def test_failed_while_still_primary_waits_for_ecs_rollback_then_a_failed_rollback_is_failed():
    first = judge(item(deployment("ecs-svc/2", NEW, rollout="FAILED", reason="tasks failed to start")), TRACKED)
    assert first.state == "waiting" and first.tracked.failed_reason == "tasks failed to start"
    worse = judge(item(deployment("ecs-svc/3", OLD, rollout="FAILED", reason="rollback failed too"),
                       deployment("ecs-svc/2", NEW, status="ACTIVE", rollout="FAILED")), first.tracked)
    assert worse.state == "failed" and "the rollback failed too: rollback failed too" in worse.reason


def test_failed_without_rollback_is_failed_at_once():
    no_rollback = Tracked("ecs-svc/2", NEW, OLD, before="ecs-svc/1", rollback=False)
    verdict = judge(item(deployment("ecs-svc/2", NEW, rollout="FAILED", reason="tasks failed to start")),
                    no_rollback)
    assert (verdict.state, verdict.reason) == ("failed", "tasks failed to start")


def test_a_newer_deployment_of_another_revision_is_superseded():
    other = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:8"
    verdict = judge(item(deployment("ecs-svc/9", other), deployment("ecs-svc/2", NEW, status="ACTIVE")), TRACKED)
    assert verdict.state == "superseded" and "ecs-svc/9" in verdict.reason and "shop-api:8" in verdict.reason


def test_a_concurrent_deployment_of_the_same_revision_is_followed_as_this_one():
    verdict = judge(item(deployment("ecs-svc/5", NEW, rollout="COMPLETED", running=2, desired=2),
                         deployment("ecs-svc/2", NEW, status="ACTIVE")), TRACKED)
    assert verdict.state == "completed" and verdict.tracked.deployment == "ecs-svc/5"
    assert "replaced ecs-svc/2" in verdict.tracked.followed


def test_the_deployment_gone_with_the_previous_revision_running_again_is_rolled_back():
    """aws-actions/amazon-ecs-deploy-task-definition PR #860's rule: gone, and the old content runs."""
    verdict = judge(item(deployment("ecs-svc/3", OLD, rollout="COMPLETED", running=2, desired=2)), TRACKED)
    assert verdict.state == "rolled-back"


def test_events_are_reported_once_oldest_first_and_failures_picked_out():
    seen = event_ids(item(events=[event("e0", "(service shop-api) has reached a steady state.")]))
    answer = item(events=[event("e2", "(service shop-api) has started 1 tasks: (task b)."),
                          event("e1", "(service shop-api) is unable to consistently start tasks successfully."),
                          event("e0", "(service shop-api) has reached a steady state.")])
    assert [e["message"] for e in new_events(answer, seen)] == [
        "(service shop-api) is unable to consistently start tasks successfully.",
        "(service shop-api) has started 1 tasks: (task b)."]
    assert new_events(answer, seen) == []
    assert failure_events(["has started 1 tasks", "is unable to consistently start tasks successfully",
                           "deployment failed: tasks failed to start"]) == [
        "is unable to consistently start tasks successfully", "deployment failed: tasks failed to start"]


def test_a_new_services_first_deployment_failing_is_failed_there_is_nothing_to_roll_back_to():
    first = Tracked("ecs-svc/1", NEW, None, before=None, rollback=True)
    verdict = judge(item(deployment("ecs-svc/1", NEW, rollout="FAILED", reason=BREAKER)), first)
    assert (verdict.state, verdict.reason) == ("failed", BREAKER)
