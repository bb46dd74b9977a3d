"""A calculator."""


def calculate(expr):
    return eval(expr)


def run(code):
    exec(code)
