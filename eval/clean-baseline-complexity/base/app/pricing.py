"""Shipping prices."""


def shipping_cost(weight, a, b, c, d, e, f, g, h):
    cost = 0
    if a:
        cost += 1
    if b:
        cost += 2
    if c:
        cost += 3
    if d:
        cost += 4
    if e:
        cost += 5
    if f:
        cost += 6
    if g:
        cost += 7
    if h:
        cost += 8
    if weight > 10:
        cost += 1
    if weight > 11:
        cost += 1
    if weight > 12:
        cost += 1
    if weight > 13:
        cost += 1
    if weight > 14:
        cost += 1
    if weight > 15:
        cost += 1
    if weight > 16:
        cost += 1
    if weight > 17:
        cost += 1
    return cost
