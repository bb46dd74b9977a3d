from app.accounts import normalise


def test_normalise():
    assert normalise("  Bo ") == "bo"
