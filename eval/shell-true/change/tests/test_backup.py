from app import backup


def test_archive_exists():
    assert callable(backup.archive)
