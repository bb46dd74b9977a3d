"""User lookups."""


def _collapse(text):
    return " ".join(text.split())


def normalise(name):
    return _collapse(name).lower()
