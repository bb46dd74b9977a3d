from app.calc import calculate


def test_calculate():
    assert calculate("1 + 1") == 2
