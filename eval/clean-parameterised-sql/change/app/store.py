"""User storage."""


def find_user(conn, name):
    return conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchall()
