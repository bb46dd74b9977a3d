"""User lookups."""


def normalise(name):
    return name.strip().lower()


def initials(name):
    return "".join(part[0] for part in name.split()).upper()
