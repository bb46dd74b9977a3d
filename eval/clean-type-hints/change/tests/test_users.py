from app.users import normalise


def test_normalise():
    assert normalise("  Bo ") == "bo"


def test_normalise_empty():
    assert normalise("   ") == ""
