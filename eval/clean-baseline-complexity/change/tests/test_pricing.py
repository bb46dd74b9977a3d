from app.pricing import shipping_cost


def test_free():
    assert shipping_cost(1, *([False] * 8)) == 0


def test_option_a():
    assert shipping_cost(1, True, *([False] * 7)) == 10
