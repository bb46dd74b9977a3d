from app.users import title


def test_title():
    assert title("ada lovelace") == "Ada Lovelace"
