"""Shared fixtures: one sandbox zygote for the whole test session (forking a child is cheap)."""
import pytest

from autograder.sandbox import Zygote


@pytest.fixture(scope="session")
def zygote():
    z = Zygote()
    yield z
    z.close()
