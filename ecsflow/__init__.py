"""ecsflow: docker-compose services as ECS Fargate task definitions."""

__version__ = "0.1.0"
