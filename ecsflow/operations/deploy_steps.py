"""The writes of `ecsflow deploy`, in `depends_on` order (``ecsflow.operations.deploy`` plans and checks them).

``Executor.run``: the families are registered first, as `sync` registers them; then each step starts as soon as
the steps it waits for are done (through a bounded pool of ``--concurrency`` workers), while the main thread
follows every rollout under way (``ecsflow.operations.rollouts``):

- a service is created (CreateService with its client token) or updated (UpdateService with only the changed
  members; Tag/UntagResource for the tags); "not idempotent", or an answer lost after botocore's retries, is
  resolved by describing the service and taking the update path;
- its rollout is followed when the deploy waits (--wait, the default), or when another deployed service
  depends on it (service_started, service_healthy): its dependents start once it completed;
- a job runs once, as `ecsflow run` runs it (``ecsflow.operations.runs.run_current``), when a step after it
  changes something; a job that does not exit 0 stops its dependents (`not-started`), as does a service that
  did not deploy.

Ctrl-C (or SIGTERM) stops new writes at once: steps not started are `not-started`, the jobs running are asked to
stop, the writes under way are waited for (a second Ctrl-C stops waiting), the rollouts under way are `started`.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from ecsflow.ecs.errors import one_line
from ecsflow.errors import AwsError
from ecsflow.operations.deploy_work import (
    AWS_POLL,
    SANDBOX_POLL,
    JobOutcome,
    ServiceOutcome,
    Work,
    update_request,
)
from ecsflow.operations.rollouts import Watcher
from ecsflow.service.rollout import Tracked, event_ids, primary_deployment


class Executor:
    def __init__(self, ecs: Any, aws: Any, rendered: Any, order: Any, works: list[Work], jobs: dict, how: Any,
                 callbacks: Any, families: dict) -> None:
        self.ecs, self.aws, self.rendered, self.how, self.callbacks = ecs, aws, rendered, how, callbacks
        self.api = ecs.services()
        self.works = {work.plan.spec.service: work for work in works}
        self.jobs = jobs
        self.steps = list(order.steps)
        self.families = families  # family -> ecsflow.diff.FamilyDiff
        self.dependents: dict[str, list[str]] = {}
        for step in self.steps:
            for before in step.after:
                self.dependents.setdefault(before, []).append(step.name)
        poll = how.poll_interval or (SANDBOX_POLL if aws.sandbox else AWS_POLL)
        self.watcher = Watcher(self.api, poll, how.timeout, on_event=callbacks.event, on_progress=callbacks.progress)
        self.current: dict[str, tuple[int | None, str | None, bool]] = {}  # family -> revision, ARN, registered
        self.unregistered: dict[str, str] = {}  # family -> why it could not be registered
        self.outcomes: dict[str, Any] = {}  # step -> ServiceOutcome or JobOutcome
        self.tasks: dict[str, str] = {}  # job -> its task's ARN, while it runs

    # -- the run ------------------------------------------------------------------------------------------

    def run(self) -> tuple[tuple[ServiceOutcome, ...], tuple[JobOutcome, ...], BaseException | None]:
        interrupted = None
        try:
            self._register()
            self._steps()
        except KeyboardInterrupt as exc:
            interrupted = exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else exc
        for step in self.steps:
            if step.name not in self.outcomes:
                self.outcomes[step.name] = self._not_started(step.name, "interrupted before it was created, "
                                                             "updated or run (run deploy again)")
        services = tuple(self.outcomes[name] for name in self.works)
        return services, tuple(self.outcomes[name] for name in self.jobs), interrupted

    def _register(self) -> None:
        from ecsflow.ecs.definitions import RegisterItem
        from ecsflow.ecs.register import RegistrationInterrupted

        builds = {w.plan.spec.family: (w.plan.spec.service, w.plan.latest) for w in self.works.values()}
        builds.update({j.build.family: (name, j.live_arn) for name, j in self.jobs.items() if j.runs})
        requests = {b.family: b.request for b in self.rendered.builds}
        items = [RegisterItem(service, family, requests[family], self.families[family].live_revision)
                 for family, (service, _) in builds.items() if self.families[family].status != "unchanged"]
        for family, (_, latest) in builds.items():
            if self.families[family].status == "unchanged":
                self.current[family] = (self.families[family].live_revision, latest, False)
        if not items:
            return
        self.callbacks.registering(len(items), self.ecs.registration_eta(len(items)))
        try:
            done = self.ecs.register_families(items, on_done=self.callbacks.registered)
        except RegistrationInterrupted as stopped:
            self._registered(stopped.outcomes)
            raise
        self._registered(done)

    def _registered(self, outcomes) -> None:
        for outcome in outcomes:
            if outcome.status == "registered":
                self.current[outcome.family] = (outcome.revision, outcome.arn or f"{outcome.family}:{outcome.revision}",
                                                True)
                if outcome.note:
                    self.callbacks.message("note", f"{outcome.family}: {outcome.note}")
            else:
                self.unregistered[outcome.family] = outcome.error or outcome.status

    def _steps(self) -> None:
        pool = ThreadPoolExecutor(max_workers=max(1, self.ecs.concurrency), thread_name_prefix="ecsflow-deploy")
        futures: dict[Future, str] = {}
        state = {step.name: "pending" for step in self.steps}
        try:
            while True:
                self._start_ready(pool, futures, state)
                if all(value == "done" for value in state.values()):
                    return
                timeout = self.watcher.seconds_to_next()
                if futures:
                    finished, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
                else:
                    time.sleep(timeout or 0.0)
                    finished = set()
                for future in finished:
                    name = futures.pop(future)
                    state[name] = self._took(name, future.result())
                for name, outcome in self.watcher.poll_due():
                    self.outcomes[name], state[name] = outcome, "done"
        except KeyboardInterrupt:
            self._interrupted(pool, futures, state)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _start_ready(self, pool: ThreadPoolExecutor, futures: dict, state: dict) -> None:
        """Start each step whose steps before it are done; one with nothing to send (an unchanged service, a job
        not needed) ends here at once, which may make others ready: until none is."""
        ready = True
        while ready:
            ready = False
            for step in self.steps:
                if state[step.name] != "pending" or any(state[before] != "done" for before in step.after):
                    continue
                blocked = [before for before in step.after if not self.outcomes[before].done]
                if blocked:
                    why = ", ".join(f"{b} ({self.outcomes[b].status})" for b in blocked)
                    self.outcomes[step.name] = self._not_started(step.name, f"not deployed: it waits for {why}")
                    state[step.name] = ready = "done"
                elif not self._sends(step.name):
                    state[step.name] = ready = self._took(step.name, self._step(step.name))
                else:
                    state[step.name] = "running"
                    futures[pool.submit(self._step, step.name)] = step.name

    def _step(self, name: str) -> Any:
        return self._job(name) if name in self.jobs else self._service(name)

    def _sends(self, name: str) -> bool:
        """Whether the step calls AWS (else it is decided here: unchanged, or not needed)."""
        return self.jobs[name].runs if name in self.jobs else self.works[name].action != "unchanged"

    def _took(self, name: str, result: Any) -> str:
        if isinstance(result, tuple):  # (outcome so far, Tracked, events seen): its rollout is followed
            outcome, tracked, seen = result
            self.watcher.add(name, outcome, tracked, seen)
            return "watching"
        self.outcomes[name] = result
        return "done"

    def _interrupted(self, pool: ThreadPoolExecutor, futures: dict, state: dict) -> None:
        for future in futures:
            future.cancel()
        for job, arn in list(self.tasks.items()):
            try:
                self.ecs.stop_task(self.jobs[job].request["cluster"], arn, "ecsflow deploy: interrupted")
            except AwsError as error:
                self.callbacks.message("warning", f"cannot stop the task of {job}: {error.message}")
        try:
            for future, name in list(futures.items()):
                if not future.cancelled():
                    self._took(name, future.result())
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting for the writes under way
            pass
        for name, outcome in self.watcher.stop_all("interrupted while its rollout was under way: ECS goes on "
                                                   "with it"):
            self.outcomes[name] = outcome

    def _not_started(self, name: str, why: str) -> Any:
        if name in self.jobs:
            job = self.jobs[name]
            return JobOutcome(name, job.build.family, "not-started", error=why)
        spec = self.works[name].plan.spec
        return ServiceOutcome(spec.service, spec.ecs_service, spec.cluster, "not-started", error=why,
                              desired_count_owner=spec.desired_count_owner)

    # -- one service --------------------------------------------------------------------------------------

    def _service(self, name: str) -> Any:
        work = self.works[name]
        plan, spec = work.plan, work.plan.spec
        live_primary = primary_deployment(plan.live) or {}
        base = ServiceOutcome(spec.service, spec.ecs_service, spec.cluster, "unchanged",
                              task_definition=(plan.live or {}).get("taskDefinition"),
                              deployment_id=live_primary.get("id"), desired_count=_count(plan),
                              desired_count_owner=spec.desired_count_owner, changes=plan.diff.changes,
                              note="; ".join(plan.diff.notes) or None)
        if work.action == "unchanged":
            return base
        if spec.family in self.unregistered:
            return replace(base, status="failed", error=f"cannot register family {spec.family}: "
                           f"{self.unregistered[spec.family]}")
        task_definition = self.current[spec.family][1]
        try:
            if work.action == "create":
                return self._create(work, base, task_definition)
            return self._update(work, replace(base, previous_task_definition=base.task_definition), plan.live,
                                task_definition)
        except AwsError as error:
            return replace(base, status="failed", error=one_line(error))

    def _create(self, work: Work, base: ServiceOutcome, task_definition: str) -> Any:
        from ecsflow.ecs.services import LostAnswer, NotIdempotent

        spec = work.plan.spec
        try:
            item = self.api.create(spec.create_request(task_definition, work.target_group_arn))
        except (NotIdempotent, LostAnswer) as why:
            return self._adopt(work, base, task_definition, why)
        return self._written(work, replace(base, status="created", desired_count=spec.desired_count,
                                           task_definition=task_definition), item, None, set())

    def _adopt(self, work: Work, base: ServiceOutcome, task_definition: str, why: AwsError) -> Any:
        """CreateService answered "not idempotent", or got no answer: what ECS holds now decides."""
        from ecsflow.operations.service_plan import refusal_of
        from ecsflow.service.compare import compare_service

        spec = work.plan.spec
        live = self.api.describe(spec.cluster, [spec.ecs_service])[spec.ecs_service]
        if live is None or live.get("status") != "ACTIVE":
            return replace(base, status="failed", error=f"{why.message}; ECS holds no ACTIVE service "
                           f"{spec.ecs_service}: it was not created (run deploy again)")
        refused = refusal_of(live)
        if refused:
            return replace(base, status="failed", error=refused)
        diff = compare_service(spec, live, task_definition_same=live.get("taskDefinition") == task_definition,
                               wanted_task_definition=task_definition)
        note = (f"CreateService: {why.message}: the service was there already (a concurrent deploy, or this one's "
                "lost answer); it was compared and updated where it differed")
        adopted = replace(work, plan=replace(work.plan, live=live, diff=diff), action="update")
        base = replace(base, status="created", note=note, changes=diff.changes,
                       deployment_id=(primary_deployment(live) or {}).get("id"))
        if diff.status == "unchanged" and not diff.tags_changed:
            return self._written(adopted, replace(base, task_definition=live.get("taskDefinition")), live, None,
                                 set())
        return self._update(adopted, base, live, task_definition)

    def _update(self, work: Work, base: ServiceOutcome, live: dict, task_definition: str) -> Any:
        from ecsflow.ecs.services import LostAnswer

        diff = work.plan.diff
        arn = live.get("serviceArn") or live.get("serviceName")
        self.api.tag(arn, diff.tags_to_add)
        self.api.untag(arn, diff.tags_to_remove)
        before = (primary_deployment(live) or {}).get("id")
        status = "created" if base.status == "created" else "updated"
        sent = task_definition if diff.task_definition_changed else live.get("taskDefinition")
        if not diff.changes and not self.how.force_new_deployment:
            return self._written(work, replace(base, status=status), live, before, event_ids(live))
        try:
            item = self.api.update(update_request(work, task_definition, self.how))
        except LostAnswer as lost:
            item = self.api.describe(work.plan.spec.cluster, [work.plan.spec.ecs_service])[work.plan.spec.ecs_service]
            primary = primary_deployment(item) or {}
            if item is None or primary.get("id") == before or primary.get("taskDefinition") != sent:
                raise AwsError(f"{lost.message}, and ECS shows no new deployment of {sent}: the service may not have "
                               "been updated", hint="run deploy again: it compares and sends what still differs") \
                    from lost
        return self._written(work, replace(base, status=status, task_definition=sent), item, before, event_ids(live))

    def _written(self, work: Work, outcome: ServiceOutcome, item: dict, before: str | None, seen: set[str]) -> Any:
        """The outcome, or (outcome, Tracked, events seen) when a rollout is to be followed."""
        spec = work.plan.spec
        primary = primary_deployment(item) or {}
        tracked = primary.get("id")
        if not tracked or tracked == before:  # no new deployment (a count, a grace period, tags)
            return replace(outcome, deployment_id=tracked or outcome.deployment_id)
        outcome = replace(outcome, deployment_id=tracked)
        if not self.how.wait and not self.dependents.get(spec.service):
            return replace(outcome, status="started")
        breaker = spec.request.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker", {})
        return outcome, Tracked(tracked, primary.get("taskDefinition"), outcome.previous_task_definition, before,
                                rollback=bool(breaker.get("enable") and breaker.get("rollback"))), seen

    # -- one job ------------------------------------------------------------------------------------------

    def _job(self, name: str) -> JobOutcome:
        from ecsflow.operations.runs import NOT_EXECUTED, RunCallbacks, RunOptions, run_current

        job = self.jobs[name]
        family = job.build.family
        if not job.runs:
            return JobOutcome(name, family, "skipped", job.live_revision, note="nothing that depends on it changes")
        if family in self.unregistered:
            return JobOutcome(name, family, "failed", error=f"cannot register family {family}: "
                              f"{self.unregistered[family]}")
        callbacks = RunCallbacks(message=self.callbacks.message,
                                 status=lambda state: self.callbacks.progress(name, state.last_status.lower()),
                                 lines=lambda lines: self.callbacks.job_lines(name, lines))
        run_options = RunOptions(service=name, timeout=self.how.timeout, poll_interval=self.how.poll_interval,
                                 strict=self.how.strict)
        try:
            result = run_current(self.ecs, self.aws, self.rendered, job.build, job.request, self.current[family],
                                 run_options, callbacks, on_started=lambda arn: self.tasks.__setitem__(name, arn))
        except AwsError as error:
            return JobOutcome(name, family, "failed", self.current[family][0], error=one_line(error))
        finally:
            self.tasks.pop(name, None)
        if result.status == NOT_EXECUTED:
            return JobOutcome(name, family, "not-executed", result.revision, note=result.message)
        if result.timed_out:
            return JobOutcome(name, family, "timeout", result.revision, result.task_arn, error=(
                f"it did not end within {self.how.timeout:g} s; it was stopped"))
        if result.exit_code == 0:
            return JobOutcome(name, family, "succeeded", result.revision, result.task_arn, 0)
        return JobOutcome(name, family, "failed", result.revision, result.task_arn, result.exit_code, error=(
            f"exited with {result.exit_code}" if result.exit_code is not None else
            f"stopped without an exit code: {result.stopped_reason or 'no reason given'}"))


def _count(plan: Any) -> int | None:
    if plan.live is None or plan.spec.desired_count_owner == "compose":
        return plan.spec.desired_count
    return plan.live.get("desiredCount")

