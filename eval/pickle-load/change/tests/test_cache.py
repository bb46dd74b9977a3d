import pickle

from app.cache import load


def test_load(tmp_path):
    p = tmp_path / "c"
    p.write_bytes(pickle.dumps(1))
    assert load(p) == 1
