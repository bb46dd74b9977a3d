"""Settings."""

import os


def api_key():
    return os.environ.get("APP_API_KEY", "")
