from app.users import normalise


def test_normalise_inner_space():
    assert normalise(" A B ") == "a b"
