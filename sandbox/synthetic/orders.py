"""Purchase orders (SC7): headers spread over items, pointing at live suppliers — except a
few that point at a supplier that does not exist or at a blocked one while still open."""

from __future__ import annotations

import numpy as np

from sandbox.synthetic import fmt
from sandbox.synthetic.frame import Frame, filled
from sandbox.synthetic.masters import Master
from sandbox.synthetic.names import BR_PERSON
from sandbox.synthetic.text import ObjArray, as_objects

_FIRST_DAY = np.datetime64("2019-01-01")
_DAYS = 2_400  # up to mid-2025
_RECENT = int((np.datetime64("2025-01-01") - _FIRST_DAY).astype(int))


def _products(rng: np.random.Generator) -> ObjArray:
    families = as_objects(["MP", "MC", "PA", "SV", "EM", "MN"])
    family = families[np.arange(3_000) % len(families)]
    return family + fmt.padded(rng.integers(1, 100_000, size=3_000), 6)  # type: ignore[no-any-return]


def build_orders(rng: np.random.Generator, suppliers: Master, orders: int) -> Frame:
    """Item rows of `orders` purchase orders; columns are facts and written values mixed."""
    facts = suppliers.facts
    live = np.flatnonzero(~facts["deleted"])
    weight = rng.gamma(0.6, size=len(live))
    target = live[rng.choice(len(live), size=orders, p=weight / weight.sum())]
    blocked = facts["blocked"][target]
    day = rng.integers(0, _DAYS, size=orders)
    closed = rng.random(orders) < np.where(day < _RECENT, 0.9, 0.3)
    # Buyers close orders to blocked suppliers… all but the planted few.
    closed |= blocked
    open_blocked = np.flatnonzero(blocked)[: max(2, orders // 500)]
    closed[open_blocked] = False
    missing = rng.choice(orders, size=max(2, orders // 1000), replace=False)
    missing = np.setdiff1d(missing, open_blocked)
    filial = rng.choice(3, size=orders, p=[0.5, 0.3, 0.2]).astype(np.int64)
    num = np.empty(orders, dtype=np.int64)
    for f in range(3):
        rows = np.flatnonzero(filial == f)
        num[rows[np.argsort(day[rows], kind="stable")]] = np.arange(1, len(rows) + 1)
    cod = facts["cod"][target].copy()
    loja = facts["loja"][target].copy()
    cod[missing] = int(facts["cod"].max()) + 1 + np.arange(len(missing))
    loja[missing] = 1
    foreign = facts["origin"][target] > BR_PERSON
    currency = np.where(foreign, np.where(rng.random(orders) < 0.6, 1, 2), 0)
    approval = rng.choice(3, size=orders, p=[0.85, 0.12, 0.03])
    defect = filled(orders, "")
    defect[open_blocked] = "open_po_blocked_supplier"
    defect[missing] = "po_missing_supplier"
    # Deleting an order the defects rely on would hide them.
    deleted_order = (rng.random(orders) < 0.007) & (defect == "")
    # Sorting orders before expanding items leaves the item rows in key order.
    by_key = np.lexsort((num, filial))
    filial, num, cod, loja, day = (
        filial[by_key],
        num[by_key],
        cod[by_key],
        loja[by_key],
        day[by_key],
    )
    closed, currency, approval = closed[by_key], currency[by_key], approval[by_key]
    deleted_order, defect, target = deleted_order[by_key], defect[by_key], target[by_key]

    items = rng.choice([1, 2, 3], size=orders, p=[0.5, 0.3, 0.2])
    head = np.repeat(np.arange(orders), items)
    item = np.arange(len(head)) - np.repeat(np.cumsum(items) - items, items) + 1
    n = len(head)
    whole = rng.random(n) < 0.7
    quantity = np.where(whole, rng.integers(1, 500, size=n) * 100, rng.integers(10, 50_000, size=n))
    price = np.exp(rng.uniform(np.log(100), np.log(500_000), size=n)).astype(np.int64)
    total = (quantity * price + 50) // 100
    day_text = fmt.day_strings(_FIRST_DAY + np.arange(_DAYS).astype("timedelta64[D]"))
    first_item = item == 1
    return {
        "filial": filial[head],
        "num": num[head],
        "item": item,
        "product": _products(rng)[rng.integers(0, 3_000, size=n)],
        "quantity": fmt.money(quantity),
        "price": fmt.money(price),
        "total": fmt.money(total),
        "cod": cod[head],
        "loja": loja[head],
        "issued": day_text[day[head]],
        "approval": as_objects(["L", "B", "R"])[approval[head]],
        "closed": as_objects(["", "E"])[closed[head].astype(np.int64)],
        "currency": as_objects(["1", "2", "4"])[currency[head]],
        "deleted": deleted_order[head] | ((rng.random(n) < 0.003) & (defect[head] == "")),
        "supplier_row": target[head],
        "defect": fmt.choose(first_item, defect[head], filled(n, "")),
    }
