"""User lookups."""


def normalise(name):
    return name.strip().lower()


def find_user(conn, name):
    query = "SELECT id FROM users WHERE name = '%s'" % name
    return conn.execute(query).fetchall()
