"""The sandbox's kept answers (ecsflow/sandbox/answers.py): a read-only command of an unchanged sandbox is answered
without starting moto, and says exactly what moto would have said; any change of the state is answered by moto."""

from __future__ import annotations

import json
import subprocess
import sys

from cli_runner import ecsflow_process

# A command run in a process of its own, then which of the heavy modules it imported.
IMPORTED = """
import sys
sys.argv = ["ecsflow", *sys.argv[1:]]
from ecsflow.cli import main
try:
    main()
except SystemExit as end:
    code = end.code
print("imported", "moto" in sys.modules, "botocore.session" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def imports(project, *command: str) -> tuple[str, str]:
    """(stdout, what it imported: "imported <moto> <botocore.session>") of ``ecsflow COMMAND``."""
    done = subprocess.run([sys.executable, "-c", IMPORTED, *command], cwd=project, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr.strip().splitlines()[-1]


def answers_file(project):
    return project / ".ecsflow" / "sandbox" / "answers.cache"


def test_a_second_diff_of_an_unchanged_sandbox_starts_no_moto_and_says_the_same(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    first, imported = imports(etl_project, "diff", "--sandbox")
    assert imported == "imported True True"  # nothing kept yet: moto answered, and its answers are kept
    assert answers_file(etl_project).is_file()
    again, imported = imports(etl_project, "diff", "--sandbox")
    assert imported == "imported False False"
    assert again == first
    assert "No changes. 4 task definition(s) match ECS." in again
    _, imported = imports(etl_project, "sync", "--sandbox")  # a no-op sync asks the same of the families
    assert imported == "imported False False"


def test_kept_answers_give_what_moto_gives_in_every_format(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)  # keeps the answers
    for command in (("diff", "--sandbox", "--format", "json"), ("diff", "--sandbox", "--format", "markdown"),
                    ("sync", "--sandbox", "--format", "json")):
        kept = ecsflow_process(*command, cwd=etl_project).stdout
        answers_file(etl_project).unlink()
        from_moto = ecsflow_process(*command, cwd=etl_project).stdout
        assert kept == from_moto, command
        assert answers_file(etl_project).is_file()  # kept again by the session moto answered


def test_a_state_file_edited_by_hand_is_answered_by_moto(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    state = etl_project / ".ecsflow" / "sandbox" / "etl-load.json"
    document = json.loads(state.read_text())
    document["revisions"][-1]["request"]["containerDefinitions"][0]["image"] = "etl/load:0.9"
    state.write_text(json.dumps(document))
    changed = ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project, expect=2).stdout
    assert "etl/load:0.9" in changed and "etl/load:1.4.2" in changed


def test_what_sync_registers_is_what_the_next_diff_sees(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("etl/load:1.4.2", "etl/load:1.5.0"))
    # The kept answer of etl-load is the old revision: the change shows, from kept answers or not.
    assert "etl/load:1.5.0" in ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services",
                                               cwd=etl_project, expect=2).stdout
    synced = ecsflow_process("sync", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [f["family"] for f in json.loads(synced)["families"] if f["status"] == "registered"] == ["etl-load"]
    ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project)  # exit 0: no change left


def test_an_unreadable_answers_file_is_ignored_and_written_again(etl_project):
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    answers_file(etl_project).write_bytes(b"\xff\x00 not ours")
    ecsflow_process("diff", "--sandbox", "--exit-code", "--no-services", cwd=etl_project)
    assert json.loads(answers_file(etl_project).read_text())["answers"]


def test_a_deploy_after_kept_answers_follows_its_rollout_in_moto(etl_project):
    """The describes before deploy's first write may be kept answers; after it, moto answers every call (the
    rollout it follows is in moto's state, not in the kept answers)."""
    ecsflow_process("sync", "--sandbox", cwd=etl_project)
    ecsflow_process("diff", "--sandbox", cwd=etl_project)
    created = ecsflow_process("deploy", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [(s["service"], s["status"]) for s in json.loads(created)["services"]] == [("api", "created")]
    again = ecsflow_process("deploy", "--sandbox", "--format", "json", cwd=etl_project).stdout
    assert [(s["service"], s["status"]) for s in json.loads(again)["services"]] == [("api", "unchanged")]
    assert "0 to create, 0 to update, 1 unchanged" in ecsflow_process("diff", "--sandbox", cwd=etl_project).stdout


def test_once_moto_has_started_it_answers_every_question():
    """After any call that is not a kept question (a write), moto's state may differ from the kept answers'."""
    from ecsflow.sandbox.answers import KeptAnswersClient, question

    class Moto:
        started = False

        def start(self):
            self.started = True
            return self

        def describe_task_definition(self, **params):
            return {"taskDefinition": {"family": "etl-load", "revision": 2}}

        def register_task_definition(self, **params):
            return {"taskDefinition": {"family": "etl-load", "revision": 2}}

    moto = Moto()
    ask = {"taskDefinition": "etl-load", "include": ["TAGS"]}
    kept = {question("describe_task_definition", ask): {"taskDefinition": {"family": "etl-load", "revision": 1}}}
    client = KeptAnswersClient(kept, moto.start, lambda: moto.started)
    assert client.describe_task_definition(**ask)["taskDefinition"]["revision"] == 1
    assert not moto.started
    client.register_task_definition(family="etl-load", containerDefinitions=[])
    assert client.describe_task_definition(**ask)["taskDefinition"]["revision"] == 2
    assert client.recorded == {question("describe_task_definition", ask): {
        "taskDefinition": {"family": "etl-load", "revision": 2}}}
