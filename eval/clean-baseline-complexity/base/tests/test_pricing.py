from app.pricing import shipping_cost


def test_free():
    assert shipping_cost(1, *([False] * 8)) == 0
