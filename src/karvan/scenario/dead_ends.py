"""Open links that lead nowhere: no path between two zones can take them.

A border opened while the lines on either side of it stay closed or planned carries 0 t, and
nothing said why (Aghband opened in 2028, before the Horadiz–Aghband line and the Meghri
section). The rule is structural and cheap: peel off, again and again, every node that is not
a zone's and that the open links join to at most one other node; the open links peeled off
lie on no path between two zones. A loop hanging from the network by one node is not peeled.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from karvan.errors import format_ids


def dead_end_links(links: pd.DataFrame, zone_nodes: Collection) -> set:
    """The open links of ``links`` (``status``, ``from_node_id``, ``to_node_id``) that lie on
    no path between two of ``zone_nodes``, as peeled from dead ends (direction ignored).

    Examples
    --------
    >>> links = pd.DataFrame({"from_node_id": ["A", "B", "B"], "to_node_id": ["B", "C", "D"],
    ...                       "status": ["open", "open", "open"]}, index=["AB", "BC", "BD"])
    >>> sorted(dead_end_links(links, {"A", "C"}))
    ['BD']
    """
    is_open = links["status"].astype(str) == "open"
    ends = dict(zip(links.index[is_open], zip(links.loc[is_open, "from_node_id"],
                                              links.loc[is_open, "to_node_id"], strict=True),
                    strict=True))
    at: dict = {}
    for link, (a, b) in ends.items():
        at.setdefault(a, set()).add(link)
        at.setdefault(b, set()).add(link)

    def others(node) -> set:
        return {n for x in at[node] for n in ends[x] if n != node}

    dead: set = set()
    todo = [n for n in at if n not in zone_nodes]
    while todo:
        node = todo.pop()
        if node in zone_nodes or not at.get(node) or len(others(node)) > 1:
            continue
        for link in list(at[node]):
            dead.add(link)
            for n in ends[link]:
                at[n].discard(link)
                if n != node:
                    todo.append(n)
    return dead


def dead_end_stops(links: pd.DataFrame, dead: set, opened: list, zone_nodes: Collection
                   ) -> dict:
    """Where the dead ends that the links ``opened`` (those among ``dead``) belong to stop: node
    -> the links there that are not open. ``links`` are the scenario year's, after all its
    modifications."""
    ids = [x for x in opened if x in dead]
    is_open = links["status"].astype(str) == "open"
    ends = links[["from_node_id", "to_node_id"]]
    # the dead ends these links belong to: the dead links that reach them through dead links
    # (a border opened without the lines on both sides ends past them)
    seen, todo = set(ids), list(ids)
    nodes: dict = {}
    while todo:
        for node in ends.loc[todo.pop()]:
            if node in nodes:
                continue
            nodes[node] = here = list(links.index[(ends["from_node_id"] == node)
                                                  | (ends["to_node_id"] == node)])
            step = [x for x in here if x in dead and x not in seen]
            seen.update(step)
            todo.extend(step)
    stops = {}
    for node, here in nodes.items():
        if node in zone_nodes or not {x for x in here if is_open[x]} <= dead:
            continue
        idle = [x for x in here if not is_open[x]]
        if idle:
            stops[node] = idle
    return stops


def dead_end_text(links: pd.DataFrame, dead: set, opened: list, zone_nodes: Collection,
                  year: int) -> str:
    """What is said of the links ``opened`` by one modification that are among ``dead``: the
    nodes where the dead ends they belong to stop (:func:`dead_end_stops`), with the links
    there that are not open and their status, and the fix; ``links`` are the scenario year's,
    after all its modifications."""
    ids = [x for x in opened if x in dead]
    status = links["status"].astype(str)
    tips = [f"{node} ({', '.join(x + ' ' + status[x] for x in idle)})"
            for node, idle in dead_end_stops(links, dead, opened, zone_nodes).items()]
    one = len(ids) == 1
    carry = "it carries" if one else "they carry"
    where = (f"at {', '.join(tips)} no other open link leads on" if tips else
             f"{'it joins' if one else 'they join'} no two zones")
    return (f"{format_ids(ids)} {'leads' if one else 'lead'} nowhere in {year}: {where}, so no "
            f"freight can take {'it' if one else 'them'} and {carry} 0 t"
            " (allowed, but unusual: open those links too, in this scenario, with year = "
            f"the year they open, or leave {'it' if one else 'these'} closed).")
