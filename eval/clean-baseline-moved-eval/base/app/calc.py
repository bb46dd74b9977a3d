"""A calculator for trusted admin input."""


def load(text):
    return eval(text)  # noqa: S307 - admin console only
