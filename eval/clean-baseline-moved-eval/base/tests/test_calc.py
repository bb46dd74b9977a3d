from app.calc import load


def test_load():
    assert load("1 + 1") == 2
