"""The API client."""

API_KEY = "{{OPENAI_KEY}}"


def headers():
    return {"Authorization": "Bearer " + API_KEY}
