"""A calculator for trusted admin input."""


class Loader:
    @staticmethod
    def load(text):
        return eval(text)  # noqa: S307 - admin console only
