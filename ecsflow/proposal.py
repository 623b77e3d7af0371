"""`ecsflow init`'s proposal: the top-level `x-ecsflow` block, from what the account holds (``AccountFacts``),
as YAML text with a comment per value saying where it came from, and its insertion into a compose file that
keeps every other byte of it. Pure: no I/O.

The block is written as text (a few lines, exact: comments are not something a YAML emitter keeps), then read
back with ecsflow's own YAML reader, which must give the values proposed; inserted into a file, the file must
read as before plus that block, or nothing is inserted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsflow.account_facts import AccountFacts
from ecsflow.errors import ComposeError

# What init proposes, in the order it writes them.
PROPOSED = ("region", "account", "cluster", "execution_role", "subnets", "security_groups", "assign_public_ip")
Value = str | bool | tuple[str, ...]
CREATE_ROLE = (
    "aws iam create-role --role-name ecsTaskExecutionRole --assume-role-policy-document "
    "'{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"
    "\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}'",
    "aws iam attach-role-policy --role-name ecsTaskExecutionRole --policy-arn "
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
)


@dataclass(frozen=True)
class Proposed:
    """One setting: its value (None: nothing to propose, and the comment says what to do) and where it came from
    (the comment: its first line goes after the value, the others below it)."""

    name: str
    value: Value | None
    comment: tuple[str, ...]


def propose(facts: AccountFacts, project: str, given: Mapping[str, tuple[Any, str]] | None = None,
            region_origin: str = "") -> tuple[Proposed, ...]:
    """The block for ``facts``; ``given``: settings already set (name -> (value, origin)), kept as they are."""
    given = given or {}
    found = {
        "region": Proposed("region", facts.region, (region_origin or "the AWS session's region (AWS_REGION, or "
                                                    "the profile's)",)),
        "account": Proposed("account", facts.account, (
            "the sandbox's account" if facts.sandbox else f"sts:GetCallerIdentity: the account of {facts.caller}",)),
        "cluster": _cluster(facts, project),
        "execution_role": _execution_role(facts),
        **_network(facts),
    }
    if "subnets" in given:  # what the default VPC's subnets need says nothing of the subnets set
        found.pop("assign_public_ip", None)
    chosen = []
    for name in PROPOSED:
        if name in given:
            value, origin = given[name]
            chosen.append(Proposed(name, tuple(value) if isinstance(value, list | tuple) else value,
                                   (f"as set already: {origin}",)))
        elif name in found:
            chosen.append(found[name])
    return tuple(chosen)


def _unread(facts: AccountFacts, service: str) -> str:
    reasons = [f"{action}: {code}" for action, code in facts.unread.items() if action.startswith(service + ":")]
    return f"could not be read ({'; '.join(reasons)})"


def _cluster(facts: AccountFacts, project: str) -> Proposed:
    clusters = facts.clusters
    if clusters is None:
        return Proposed("cluster", None, (f"the clusters {_unread(facts, 'ecs')}: name yours",))
    if len(clusters) == 1:
        return Proposed("cluster", clusters[0], (f"the only ECS cluster in {facts.region}",))
    if clusters:
        pick = "default" if "default" in clusters else clusters[0]
        others = ", ".join(c for c in clusters if c != pick)
        return Proposed("cluster", pick, (f"one of the {len(clusters)} ECS clusters in {facts.region}; the "
                                          f"others: {others}",))
    if facts.sandbox:
        return Proposed("cluster", project, ("the sandbox keeps no cluster: any name works there",))
    return Proposed("cluster", project, (f"no ECS cluster in {facts.region} yet: create it with",
                                         f"aws ecs create-cluster --cluster-name {project} --region {facts.region}"))


def _execution_role(facts: AccountFacts) -> Proposed:
    roles = facts.execution_roles
    if roles:
        (name, arn), others = roles[0], [n for n, _ in roles[1:]]
        why = "trusted by ecs-tasks.amazonaws.com" + (f"; also: {', '.join(others[:5])}" if others else "")
        source = "iam:GetRole" if name == "ecsTaskExecutionRole" and not others else "iam:ListRoles"
        return Proposed("execution_role", arn, (f"{source}: {why}",))
    if facts.sandbox:  # the sandbox checks no role; this is the name AWS's console creates
        return Proposed("execution_role", f"arn:aws:iam::{facts.account}:role/ecsTaskExecutionRole",
                        ("the sandbox holds no role: the name AWS's console creates; on AWS, create it with",
                         *CREATE_ROLE))
    what = f"the roles {_unread(facts, 'iam')}" if roles is None else "no role trusted by ecs-tasks.amazonaws.com"
    return Proposed("execution_role", None, (f"{what}: create one, then set its ARN here", *CREATE_ROLE))


def _network(facts: AccountFacts) -> dict[str, Proposed]:
    vpc = facts.vpc
    if vpc is None or not vpc.subnets:
        why = (f"the VPCs {_unread(facts, 'ec2')}" if any(a.startswith("ec2:") for a in facts.unread)
               else f"no default VPC in {facts.region}" if vpc is None else f"the default VPC {vpc.id} has no subnet")
        return {"subnets": Proposed("subnets", None, (f"{why}: set the subnets your tasks run in",)),
                "security_groups": Proposed("security_groups", None, ("and their security groups",))}
    whose = (f"the sandbox's default VPC {vpc.id} (the same in every sandbox command of this account and region)"
             if facts.sandbox else f"the default VPC {vpc.id}")
    network = {"subnets": Proposed("subnets", tuple(s.id for s in vpc.subnets), (f"{whose}: its subnets",))}
    if vpc.security_group:
        network["security_groups"] = Proposed("security_groups", (vpc.security_group,),
                                              ("the default VPC's security group `default`",))
    if all(s.public for s in vpc.subnets):
        network["assign_public_ip"] = Proposed("assign_public_ip", True, (
            "its subnets are public (no NAT): a task needs a public IP to pull its image",))
    return network


def values_of(proposed: Sequence[Proposed]) -> dict[str, Any]:
    """The block as ecsflow's YAML reader gives it back: setting -> value (a list for a tuple)."""
    return {p.name: list(p.value) if isinstance(p.value, tuple) else p.value for p in proposed if p.value is not None}


def block_text(proposed: Sequence[Proposed]) -> str:
    """The block as YAML: a line per value with its comment; a setting without a value is a comment."""
    lines = ["# ecsflow's settings, proposed by `ecsflow init`: check them (docs/reference/settings.md).", "x-ecsflow:"]
    for p in proposed:
        first, *rest = [_comment(line) for line in p.comment] or [""]
        if p.value is None:
            lines.append(f"  # {p.name}: {first}")
        elif isinstance(p.value, tuple) and len(p.value) > 2:  # one item a line: easier to read and to edit
            lines += [f"  {p.name}:  # {first}", *(f"    - {_yaml(item)}" for item in p.value)]
        else:
            lines.append(f"  {p.name}: {_yaml(p.value)}  # {first}")
        lines += [f"  #   {line}" for line in rest]
    return "\n".join(lines) + "\n"


def _yaml(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar: ids, names and ARNs as they are


def _comment(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)  # one line of text, whatever AWS named


def check_block(block: str, proposed: Sequence[Proposed]) -> None:
    """The block reads back, with ecsflow's YAML reader, as the values proposed (else a ComposeError)."""
    from ecsflow.compose.yamlfile import parse_yaml

    documents = parse_yaml(block, "the proposed block")
    if documents != [{"x-ecsflow": values_of(proposed)}]:
        raise ComposeError("the proposed x-ecsflow block does not read back as the values found",
                           hint="report it: init writes nothing then")


def insert_block(text: str, block: str, file: str, values: Mapping[str, Any] | None = None) -> str:
    """``text`` (a compose file) with ``block`` inserted as a top-level key: after a one-line `name:`, else
    before the first top-level key. Every other character is kept; the result must read as ``text`` plus the
    block (ecsflow's YAML reader), else a ComposeError says why and nothing is inserted."""
    import yaml

    from ecsflow.compose.yamlfile import parse_yaml

    def refuse(why: str) -> ComposeError:
        return ComposeError(f"cannot add the x-ecsflow block: {why}", file=file,
                            hint="add it by hand: `ecsflow init` without --write prints it")

    try:
        root = next(yaml.compose_all(text, Loader=yaml.SafeLoader), None)  # the first document's nodes
    except yaml.YAMLError as exc:
        raise refuse(f"it does not read as YAML ({type(exc).__name__})") from None
    if not isinstance(root, yaml.MappingNode) or root.flow_style or not root.value:
        raise refuse("its first document is not a block mapping of top-level keys")
    keys = [key.value for key, _ in root.value]
    if "x-ecsflow" in keys:
        raise refuse("it has a top-level x-ecsflow already")
    name = next(((key, value) for key, value in root.value if key.value == "name"), None)
    if name is not None and isinstance(name[1], yaml.ScalarNode) and name[1].end_mark.line == name[0].start_mark.line:
        end = text.find("\n", name[1].end_mark.index)
        offset = len(text) if end < 0 else end + 1
    else:
        first = root.value[0][0]
        if first.start_mark.column != 0:
            raise refuse("its top-level keys are indented")
        offset = first.start_mark.index
    newline = "\r\n" if "\r\n" in text else "\n"
    lead = newline if offset == len(text) and text and not text.endswith("\n") else ""
    block = lead + block.replace("\n", newline) + (newline if offset < len(text) else "")
    result = text[:offset] + block + text[offset:]
    before, after = parse_yaml(text, file), parse_yaml(result, file)
    if not after or {k: v for k, v in after[0].items() if k != "x-ecsflow"} != before[0] or after[1:] != before[1:] \
            or values is not None and after[0].get("x-ecsflow") != values:
        raise refuse("the file would not read as before with the block added")
    return result
