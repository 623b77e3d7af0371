"""Compose loading, faithful to Docker Compose v2."""
