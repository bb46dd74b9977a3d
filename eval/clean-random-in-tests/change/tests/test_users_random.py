import random
import string

from app.users import normalise


def test_normalise_is_idempotent():
    rng = random.Random(7)
    for _ in range(50):
        name = "".join(rng.choice(string.ascii_letters + " ") for _ in range(12))
        assert normalise(normalise(name)) == normalise(name)
