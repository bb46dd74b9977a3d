"""Account lookups (was app.users)."""


def normalise(name):
    return name.strip().lower()
