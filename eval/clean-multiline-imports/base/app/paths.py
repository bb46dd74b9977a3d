"""Path helpers."""

from os.path import (
    basename,
    dirname,
    join,
    splitext,
    normpath,
)


def stem(path):
    return splitext(basename(path))[0]


def parent(path):
    return normpath(dirname(path))


def child(path, name):
    return join(path, name)
