from app.users import greet


def test_greet():
    assert greet("Bo") == "Hello, Bo!"
