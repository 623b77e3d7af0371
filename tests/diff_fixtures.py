"""The answers of tests/fixtures/ecs (real DescribeTaskDefinition and RegisterTaskDefinition answers, see
SOURCES.md there) and the request a user would have sent to get each of them, written the way ecsflow's builder
writes requests (no ECS-filled defaults, other orders): the two sides of the ecsflow.diff tests (test_diff*.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ecsflow.diff import FamilyDiff, diff_family

FIXTURES = Path(__file__).parent / "fixtures" / "ecs"


def live(name: str) -> dict:
    """A fixture as describe_task_definition(include=["TAGS"]) returns it.

    The console's JSON view (the `console_*` fixtures) shows the same TaskDefinition with its tags inlined;
    they are moved to the answer's top level, where the API puts them.
    """
    doc = json.loads((FIXTURES / name).read_text())
    if "taskDefinition" in doc:
        return doc
    doc = dict(doc)
    tags = doc.pop("tags", [])
    return {"taskDefinition": doc, "tags": tags}


# --- the requests a user would have sent to get each fixture -------------------------------------------


def req_sleep360() -> dict:
    # Verbatim the sleep360.json of the same aws-cli example whose output is the fixture.
    return {
        "containerDefinitions": [
            {
                "name": "sleep",
                "image": "busybox",
                "cpu": 10,
                "command": ["sleep", "360"],
                "memory": 10,
                "essential": True,
            }
        ],
        "family": "sleep360",
    }


def req_hello_world() -> dict:
    return {
        "family": "hello_world",
        "containerDefinitions": [
            {
                "name": "wordpress",
                "image": "wordpress",
                "links": ["mysql"],
                "cpu": 10,
                "memory": 500,
                "portMappings": [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}],
            },
            {
                "name": "mysql",
                "image": "mysql",
                "cpu": 10,
                "memory": 500,
                "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
            },
        ],
    }


def req_hiringcandidate() -> dict:
    # No health-check interval/timeout/retries, no hostPort/protocol, no container cpu: ECS fills them.
    return {
        "family": "hiringcandidate-command",
        "taskRoleArn": "arn:aws:iam::939645320583:role/ecsTaskExecutionRole",
        "executionRoleArn": "arn:aws:iam::939645320583:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1 vCPU",
        "memory": "2 GB",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "hiringcandidate-command",
                "image": "939645320583.dkr.ecr.sa-east-1.amazonaws.com/hiringcandidate.command",
                "portMappings": [
                    {"name": "hiringcandidate-command-80-tcp", "containerPort": 80, "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-stream-prefix": "ecs",
                        "awslogs-region": "sa-east-1",
                        "awslogs-group": "/ecs/",
                        "awslogs-create-group": "true",
                    },
                },
                "healthCheck": {
                    "command": ["CMD-SHELL", "curl -f http://localhost/health?param1=1&param2=2 || exit 1"]
                },
            }
        ],
        "tags": [{"key": "ecsflow:managed", "value": "true"}],
    }


def req_witp() -> dict:
    secrets = {
        "TLS_KEY": "prod/witp/ssl_key-hFFsNc",
        "DATABASE_URI": "prod/witp/db_uri-MzD5WF",
        "MAPBOX_API_KEY": "prod/witp/mapbox_api_key-mwOLL1",
        "DNS_SECRETS": "dev/witp/dns-WUWoov",
        "JWT_PRIVATE_KEY": "prod/witp/jwt_private_key-xYT66g",
        "TLS_CERT": "prod/witp/ssl_cert-goNKWL",
    }
    arn = "arn:aws:secretsmanager:eu-central-1:147882094138:secret:"
    return {
        "family": "witp-server",
        "executionRoleArn": "arn:aws:iam::147882094138:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "ephemeralStorage": {"sizeInGiB": 21},
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "witp",
                "image": "147882094138.dkr.ecr.eu-central-1.amazonaws.com/witp",
                "essential": True,
                # Another order than ECS returns them in.
                "secrets": [{"name": k, "valueFrom": arn + v} for k, v in secrets.items()],
                "portMappings": [
                    {"name": "witp-443-tcp", "containerPort": 443, "hostPort": 443, "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-create-group": "true",
                        "awslogs-group": "/ecs/witp-server",
                        "awslogs-region": "eu-central-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    }


def req_payment() -> dict:
    return {
        "family": "default-payment-service",
        "executionRoleArn": "arn:aws:iam::307506883737:role/service-role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": "Main",
                "image": "307506883737.dkr.ecr.ap-southeast-1.amazonaws.com/courshare-payment-service:"
                "eeb91b0deadefa00d5896fbfef999e1250699515",
                "cpu": 256,
                "memory": 512,
                "memoryReservation": 512,
                "portMappings": [{"containerPort": 8083, "protocol": "tcp", "name": "main-8084-tcp"}],
                "environment": [
                    {
                        "name": "DATABASE_URL",
                        "value": "postgresql://payment_user:REDACTED@courshare-shared-db.c9ekmoesqqkt"
                        ".ap-southeast-1.rds.amazonaws.com:5432/payment_db?sslmode=require",
                    },
                    {"name": "WEBHOOK_SECRET", "value": "whsec_dummy"},
                    {"name": "OPTIONAL_FLAG", "value": ""},  # ECS drops it; render warns about it
                ],
                "secrets": [
                    {
                        "name": "STRIPE_API_KEY",
                        "valueFrom": "arn:aws:secretsmanager:ap-southeast-1:307506883737:secret:"
                        "courshare/payment-X0RCNp",
                    }
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/aws/ecs/default/payment-service-935f",
                        "awslogs-region": "ap-southeast-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }
        ],
    }


def req_banbury() -> dict:
    return {
        "family": "banbury-cloud",
        "executionRoleArn": "arn:aws:iam::145023116180:role/ecsTaskExecutionRole",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1 vcpu",
        "memory": "3GB",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "enableFaultInjection": False,
        "containerDefinitions": [
            {
                "name": "banbury-cloud-backend",
                "image": "banbury-cloud-backend",
                "portMappings": [
                    {"name": "banbury-80-tcp", "containerPort": 80, "protocol": "tcp", "appProtocol": "http"}
                ],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/banbury-cloud",
                        "mode": "non-blocking",
                        "awslogs-create-group": "true",
                        "max-buffer-size": "25m",
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "ecs",
                    },
                    "secretOptions": [],
                },
            }
        ],
    }


PAIRS = {
    "aws_cli_sleep360_register_output.json": req_sleep360,
    "aws_cli_hello_world_describe.json": req_hello_world,
    "console_hiringcandidate_command.json": req_hiringcandidate,
    "console_witp_server.json": req_witp,
    "console_payment_service.json": req_payment,
    "console_banbury_cloud.json": req_banbury,
}


def container(request: dict, index: int = 0) -> dict:
    return request["containerDefinitions"][index]


def changed(fixture: str, request: dict) -> FamilyDiff:
    result = diff_family("svc", request["family"], request, live(fixture))
    assert result.status == "changed", result
    return result
