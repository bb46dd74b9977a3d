import pytest

from app.users import normalise


@pytest.mark.parametrize(("raw", "want"), [("BO", "bo"), ("\tbo\n", "bo"), ("", "")])
def test_normalise_cases(raw, want):
    assert normalise(raw) == want
