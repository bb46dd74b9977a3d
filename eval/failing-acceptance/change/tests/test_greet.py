from app import users


def test_greet():
    assert users.greet("Bo").startswith("Hello")
