from app.client import headers


def test_headers():
    assert "Authorization" in headers()
