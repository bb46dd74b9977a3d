"""User lookups."""


def normalise(name):
    return name.strip().lower()


def greet(name):
    return f"Hello, {name}"
