"""How many examples a property test (hypothesis) runs: few in the fast suite, its full number in the slow run
(the "slow" profile, which tests/conftest.py loads for `pytest -m slow` or HYPOTHESIS_PROFILE=slow)."""

from hypothesis import settings


def examples(fast: int, full: int) -> int:
    """``fast`` under the fast profile, ``full`` under the slow one."""
    return full if settings.get_current_profile_name() == "slow" else fast
