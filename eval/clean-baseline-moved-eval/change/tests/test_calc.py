from app.calc import Loader


def test_load():
    assert Loader.load("1 + 1") == 2
