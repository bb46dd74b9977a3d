import sqlite3

from app.store import find_user


def test_find_user():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE users (id INTEGER, name TEXT)")
    conn.execute("INSERT INTO users VALUES (1, 'bo')")
    assert find_user(conn, "bo") == [(1,)]
