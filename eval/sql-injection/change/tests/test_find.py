from app import users


def test_find_user_exists():
    assert callable(users.find_user)
