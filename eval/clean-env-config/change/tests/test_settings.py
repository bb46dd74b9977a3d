from app.settings import api_key


def test_api_key_from_env(monkeypatch):
    monkeypatch.setenv("APP_API_KEY", "x")
    assert api_key() == "x"
