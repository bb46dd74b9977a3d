from app.users import shout


def test_shout():
    assert shout("bo") == "BO"
