"""A scenario's network as karvan writes it to GMNS: everything ``karvan assign`` needs to
reproduce the scenario's user equilibrium, in GMNS tables and karvan's documented extensions.

- ``link.csv``: every link of the scenario year with its ``status`` (only open links are
  assigned), the engine columns of the run - ``free_flow_time`` in hours (running time, dwell
  and the wait for a sailing), ``capacity`` in tonnes per year per direction (blank: unlimited),
  ``vdf``, ``alpha``, ``beta``, ``length`` in km and ``free_speed`` in km/h - and one money-cost
  column per traffic class, ``cost_usd_per_t__<class>`` (tariffs, fees, the hours of a commodity
  with a speed of its own beyond the link's time at its value of time (negative where it runs
  faster; its cost at free flow stays non-negative) and, for a class under a transit ban, the
  ban's prohibitive charge on the banned links);
- ``use_definition.csv``: one use per traffic class (a commodity, or a commodity under a transit
  ban) with its ``pce``, ``value_of_time`` (USD per tonne-hour) and ``cost_field``;
- ``demand.csv``: tonnes per year by origin zone, destination zone and class (``segment``), the
  demand that has an open route; ``no_path.csv``: the demand that has none;
- ``node.csv`` with each zone's ``zone_id`` on its centroid node, ``zone.csv``, ``config.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from karvan.freight.corridor import CorridorData
from karvan.freight.costs import build_network
from karvan.network.demand import Demand
from karvan.network.model import Network
from karvan.scenario.apply import apply_scenario
from karvan.scenario.spec import Scenario

#: the link column of each class's money cost
COST_FIELD = "cost_usd_per_t__{}"


def scenario_gmns(data: CorridorData, scenario: Scenario) -> Network:
    """The network of ``scenario`` with its classes and demand, ready for
    :func:`karvan.io.write_gmns` (see the module notes for what each table holds).

    Raises
    ------
    InputError
        When the scenario does not apply to the dataset.
    """
    from karvan.scenario.run import _classes, _split_unreachable, demand_segments

    inputs = apply_scenario(data, scenario)
    net = build_network(data, inputs.links, name=scenario.name)
    every = build_network(data, inputs.links.assign(status="open"), name=scenario.name)
    zc = data.zone_country()
    rows = demand_segments(inputs.demand[inputs.demand["tonnes_per_year"] > 0], inputs.bans,
                           zc)
    rows, no_path = _split_unreachable(net, rows, inputs.bans)
    demand = Demand.from_long(rows, origin="origin_zone_id", destination="destination_zone_id",
                              value="tonnes_per_year", segment="segment",
                              zone_ids=tuple(net.zones.index))
    classes = _classes(data, net, demand, inputs.bans)
    links = every.links.copy()
    links["status"] = inputs.links["status"]
    links["free_speed"] = links["speed_kph"] if "speed_kph" in links else np.nan
    for c in classes:
        money = pd.Series(0.0, index=links.index)
        for col, w in c.cost_fields.items():
            money += w * links[col].astype(float)
        if c.link_cost is not None:
            extra = pd.Series(np.asarray(c.link_cost, dtype=float), index=net.links.index)
            money = money.add(extra.reindex(links.index, fill_value=0.0))
        links[COST_FIELD.format(c.name)] = money
    nodes = every.nodes.drop(columns=["passable"], errors="ignore")
    com = data.commodities.set_index("commodity_id")
    uses = pd.DataFrame({
        "use": [c.name for c in classes],
        "persons_per_vehicle": 0.0,
        "pce": [c.pce for c in classes],
        "special_conditions": "",
        "description": [f"freight: {com.at[c.name.split('|')[0], 'name']}"
                        + (" (under a transit ban)" if "|" in c.name else "") for c in classes],
        "value_of_time": [c.value_of_time for c in classes],
        "cost_field": [COST_FIELD.format(c.name) for c in classes],
    })
    dem = pd.DataFrame({"o_zone_id": rows["origin_zone_id"].to_numpy(),
                        "d_zone_id": rows["destination_zone_id"].to_numpy(),
                        "volume": rows["tonnes_per_year"].to_numpy(),
                        "segment": rows["segment"].to_numpy(),
                        "commodity_id": rows["commodity_id"].to_numpy()})
    config = {k: v for k, v in data.config.items() if k != "tables"}
    config.update({"long_length": "kilometer", "speed": "kilometer/hour", "currency": "USD",
                   "dataset_name": f"{config.get('dataset_name', 'corridor')}: {scenario.name} "
                                   f"({scenario.year})"})
    config["tables"] = {"zone": data.zones.reset_index(drop=True), "demand": dem,
                        "use_definition": uses, "no_path": no_path.reset_index(drop=True)}
    config["derived_columns"] = []
    return Network(nodes, links, config, scenario.name)
