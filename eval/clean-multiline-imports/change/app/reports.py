"""Report file names."""

from os.path import (
    basename,
    dirname,
    join,
    splitext,
    normpath,
)


def report_name(path):
    folder = normpath(dirname(path))
    name = splitext(basename(path))[0]
    return join(folder, name + ".report")
