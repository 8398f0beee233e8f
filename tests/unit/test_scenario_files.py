"""Scenario files: validation at load with clear messages, extends chains, dated modifications."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from karvan.errors import InputError
from karvan.scenario import builtin_scenarios, load_scenario
from karvan.scenario.spec import builtin_scenario_folder


def write(tmp_path, name, text):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def said_applying(data, path) -> list[str]:
    """The corridor warnings of applying the scenario file ``path`` to ``data``."""
    from karvan.freight.corridor import CorridorWarning
    from karvan.scenario.apply import apply_scenario

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        apply_scenario(data, load_scenario(path))
    return [str(x.message) for x in w if issubclass(x.category, CorridorWarning)]


def on_rasht_astara(tmp_path, modification: str):
    """A scenario of 2028 extending rasht_astara with one ``[[modification]]`` (its lines)."""
    return write(tmp_path, "mine", 'name = "mine"\nyear = 2028\nextends = "rasht_astara"\n'
                 f"[[modification]]\n{modification}")


def test_builtin_scenarios_load_with_their_parents():
    names = builtin_scenarios()
    assert names == ["baseline", "rasht_astara", "baku_astara_15mt", "south_caucasus_unblocked",
                     "iran_disrupted", "combined_2030", "reference_2030"]
    combined = load_scenario("combined_2030")
    assert combined.chain == ("combined_2030", "baku_astara_15mt", "rasht_astara", "baseline")
    # the parent's modifications come first
    ra = load_scenario("rasht_astara").modifications
    assert combined.modifications[: len(ra)] == ra


def test_user_file_extends_a_builtin(tmp_path):
    p = write(tmp_path, "mine", 'name = "mine"\nyear = 2030\nextends = "rasht_astara"\n'
                                '[[modification]]\naction = "demand_scale"\nfactor = 1.5\n')
    s = load_scenario(p)
    assert s.chain == ("mine", "rasht_astara", "baseline")
    assert s.modifications[-1].action == "demand_scale"


def test_every_problem_is_named_with_its_field(tmp_path):
    p = write(tmp_path, "bad", 'name = "bad"\nyear = 2030\ncolour = "red"\n'
                               '[[modification]]\naction = "paint"\nlinks = ["X"]\n'
                               '[[modification]]\naction = "set"\nlinks = ["X"]\n'
                               'field = "capacity_tpy"\n'
                               '[[modification]]\naction = "open"\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "bad.toml" in msg
    assert "colour" in msg  # unknown key
    assert "modification[0].action" in msg
    assert "modification[1]" in msg and "needs value" in msg
    assert "modification[2]" in msg and "needs links" in msg
    assert len(e.value.problems) >= 4


def test_not_toml(tmp_path):
    p = write(tmp_path, "x", "name = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_scenario(p)


def test_a_folder_is_not_a_scenario_file(tmp_path):
    (tmp_path / "mine.toml").mkdir()  # was "scenario file not found"
    with pytest.raises(InputError, match=r"mine.toml is a folder, not a scenario file"):
        load_scenario(tmp_path / "mine.toml")


def test_set_needs_a_known_field(tmp_path):
    p = write(tmp_path, "f", 'name = "f"\nyear = 2030\n[[modification]]\naction = "set"\n'
                             'links = ["X"]\nfield = "colour"\nvalue = 1\n')
    with pytest.raises(InputError, match="needs field = one of capacity_tpy"):
        load_scenario(p)


def test_name_must_match_file_and_parent_must_exist(tmp_path):
    p = write(tmp_path, "one", 'name = "two"\nyear = 2030\n')
    with pytest.raises(InputError, match="differs from the file name"):
        load_scenario(p)
    p = write(tmp_path, "orphan", 'name = "orphan"\nyear = 2030\nextends = "nowhere"\n')
    with pytest.raises(InputError, match="extends 'nowhere'"):
        load_scenario(p)


def test_extends_cycle(tmp_path):
    write(tmp_path, "a", 'name = "a"\nyear = 2030\nextends = "b"\n')
    p = write(tmp_path, "b", 'name = "b"\nyear = 2030\nextends = "a"\n')
    with pytest.raises(InputError, match="cycle: b -> a -> b"):
        load_scenario(p)


def test_unknown_builtin_name():
    with pytest.raises(InputError, match="no built-in scenario 'nope'; built-in scenarios are "
                                         "baseline"):
        load_scenario("nope")


def test_unknown_links_are_reported_when_applied(tmp_path):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    p = write(tmp_path, "u", 'name = "u"\nyear = 2030\n[[modification]]\naction = "close"\n'
                             'links = ["NO_SUCH_LINK"]\n[[modification]]\naction = "close"\n'
                             'borders = ["NO-SUCH_BORDER"]\n')
    with pytest.raises(InputError) as e:
        apply_scenario(load_corridor(), load_scenario(p))
    assert "unknown link ids NO_SUCH_LINK" in str(e.value)
    assert "unknown border ids NO-SUCH_BORDER" in str(e.value)


def test_schema_mistakes_and_unknown_ids_come_in_one_error(tmp_path):
    """A file with a schema mistake and an unknown link id: both in one error where the dataset
    is known, each with its file, line and fix (the unknown id came only once the schema
    mistake was fixed). Without a dataset the file still reads."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario import read_scenario_file
    from karvan.scenario.reference import load_scenario_or_reference

    data = load_corridor()
    p = write(tmp_path, "two", 'name = "two"\nyear = 2030\n'
              '[[modification]]\naction = "close"\nlinks = ["R_IR_RASHT_ASTRA"]\n'
              '[[modification]]\naction = "scale"\nlinks = ["R_AZ_ALAT_OSMANLI"]\n'
              'field = "speed_kph"\nfactr = 2\n')
    for load in (lambda: load_scenario(p, data=data),
                 lambda: load_scenario_or_reference(str(p), data=data)):
        with pytest.raises(InputError) as e:
            load()
        assert e.value.source == str(p)
        first, second = e.value.problems
        assert first == ("line 3, modification[0] (close): unknown link ids R_IR_RASHT_ASTRA "
                         "(did you mean R_IR_RASHT_ASTARA?); give link_id values of link.csv.")
        assert second.startswith("line 10, modification[1].factr: unknown key (did you mean "
                                 "factor?); a modification's keys are action, links, borders")
    # the schema alone, without the dataset
    with pytest.raises(InputError) as e:
        read_scenario_file(p)
    assert len(e.value.problems) == 1 and "factr" in e.value.problems[0]
    p.write_text(p.read_text().replace("factr", "factor"))
    assert read_scenario_file(p).modification[0].links == ("R_IR_RASHT_ASTRA",)
    assert load_scenario(p).name == "two"
    with pytest.raises(InputError, match="unknown link ids R_IR_RASHT_ASTRA"):
        load_scenario(p, data=data)


def test_the_ids_of_every_modification_that_reads_are_checked(tmp_path):
    """A modification that fails the schema does not stop the others' ids being checked, nor
    its own where they are well typed."""
    from karvan.freight.corridor import load_corridor

    p = write(tmp_path, "m", 'name = "m"\nyear = 2030\ncolour = "red"\n'
              '[[modification]]\naction = "close"\nlinks = "R_AZ_ALAT_OSMANLI"\n'
              '[[modification]]\naction = "paint"\nlinks = ["NO_SUCH_A"]\n'
              '[[modification]]\naction = "open"\nlinks = ["NO_SUCH_B"]\n'
              '[[modification]]\naction = "demand_scale"\nfactor = "x"\n'
              'commodity = "containrs"\n')
    with pytest.raises(InputError) as e:
        load_scenario(p, data=load_corridor())
    got = e.value.problems
    assert got[0].startswith("line 3, colour: unknown key")
    assert got[1].startswith("line 6, modification[0].links: Input should be a valid list "
                             "(got 'R_AZ_ALAT_OSMANLI')")
    assert got[2].startswith("line 7, modification[1] (paint): unknown link ids NO_SUCH_A;")
    assert got[3].startswith("line 8, modification[1].action: Input should be 'open'")
    assert got[4].startswith("line 10, modification[2] (open): unknown link ids NO_SUCH_B;")
    assert got[5].startswith("line 13, modification[3] (demand_scale): unknown commodity "
                             "containrs (did you mean containers?)")
    assert got[6] == ("line 15, modification[3].factor: 'x' is not a number; write a plain "
                      "number, without quotes or a unit.")
    assert len(got) == 7


def test_a_problem_is_named_in_its_own_file_and_place(tmp_path):
    """A modification of a file that extends another is named by its place in its own file,
    not by its position among the parents' modifications; a year the dataset does not cover
    comes with the other problems."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    p = write(tmp_path, "child", 'name = "child"\nyear = 2090\nextends = "rasht_astara"\n'
                                 '[[modification]]\naction = "close"\nlinks = ["NO_SUCH"]\n')
    for check in (lambda: apply_scenario(data, load_scenario(p)),
                  lambda: load_scenario(p, data=data)):
        with pytest.raises(InputError) as e:
            check()
        assert e.value.source == str(p)
        assert e.value.problems[0].startswith("year 2090 is outside 2014..2074")
        assert e.value.problems[1].startswith("line 4, modification[0] (close): unknown link "
                                              "ids NO_SUCH;")
        assert len(e.value.problems) == 2


def test_modification_applies_from_its_year(tmp_path):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    # the line with the gauge transfer at Astara, without which it leads nowhere
    text = ('year = {y}\n[[modification]]\naction = "open"\n'
            'links = ["R_IR_RASHT_ASTARA", "G_IR_ASTARA"]\nyear = 2028\n')
    from karvan.freight.corridor import CorridorWarning

    for y, status in ((2027, "planned"), (2028, "open")):
        p = write(tmp_path, f"y{y}", f'name = "y{y}"\n' + text.format(y=y))
        if status == "open":
            links = apply_scenario(data, load_scenario(p)).links
        else:  # the file's own modification that its year leaves out is named
            with pytest.warns(CorridorWarning, match="in force from 2028, not in the scenario"):
                links = apply_scenario(data, load_scenario(p)).links
        assert (links.at["R_IR_RASHT_ASTARA", "status"] == "open") == (status == "open")


@pytest.mark.parametrize(("mod", "message"), [
    ('action = "set"\nlinks = ["X"]\nfield = "capacity_tpy"\nvalue = 0', "capacity must stay > 0"),
    ('action = "close"\nlinks = ["X"]\nvalue = 3', "takes no field, value or factor"),
    ('action = "scale"\nlinks = ["X"]\nfield = "dwell_h"\nvalue = 2', "takes factor, not value"),
    # filters that only demand_scale reads: the link was closed for everything, and the run's
    # manifest recorded the filter as if it applied
    ('action = "close"\nlinks = ["X"]\ncommodity = "grain"', "does not filter by commodity"),
    ('action = "scale"\ncountries = ["IR"]\nfield = "speed_kph"\nfactor = 2\n'
     'origin_country = "AZ"', "does not filter by origin_country"),
    ('action = "ban_transit"\nlinks = ["X"]\nod_countries = ["AM"]\n'
     'destination_country = "RU"', "od_countries names the countries"),
    ('action = "demand_scale"\nfactor = 2\nfield = "speed_kph"', "takes no field"),
    # a ban of a country's own freight from its links: not transit, and it cut that freight off
    ('action = "ban_transit"\ncountries = ["IR"]\nod_countries = ["IR", "AM"]',
     "IR is in both countries and od_countries: freight with an end in a country is not in "
     "transit there"),
])
def test_modifications_that_would_be_misread(tmp_path, mod, message):
    p = write(tmp_path, "m", f'name = "m"\nyear = 2030\n[[modification]]\n{mod}\n')
    with pytest.raises(InputError, match=message):
        load_scenario(p)


@pytest.mark.parametrize(("mod", "message"), [
    ('action = "close"\ncountries = ["IR"]\nmodes = ["raill"]', "unknown modes raill"),
    ('action = "demand_scale"\norigin_country = "RUS"\nfactor = 2', "'RUS' is not a country"),
    ('action = "ban_transit"\ncountries = ["AZ"]\nod_countries = ["ARM"]',
     "od_countries ARM are not countries"),
    # known country and mode that share no link (border links carry one of their two
    # countries): the closure closed nothing, in silence
    ('action = "close"\ncountries = ["IR"]\nmodes = ["border"]',
     r"no link has country IR and mode border \(a border crossing's links"),
    ('action = "scale"\ncountries = ["AM"]\nmodes = ["ferry"]\nfield = "fee_usd_per_t"\n'
     'factor = 5', "no link has country AM and mode ferry; fix"),
])
def test_filters_that_match_nothing_are_reported(tmp_path, mod, message):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    p = write(tmp_path, "f", f'name = "f"\nyear = 2030\n[[modification]]\n{mod}\n')
    with pytest.raises(InputError, match=message):
        apply_scenario(load_corridor(), load_scenario(p))


def test_a_demand_scale_that_matches_no_demand_says_why(tmp_path):
    """origin_country = "KZ", destination_country = "RU" failed with "its filters match no
    demand" and no more: Kazakhstan's trade with Russia is not in the demand (dataset.md,
    Known gaps)."""
    from karvan.freight.corridor import load_corridor

    data = load_corridor()
    zc = data.zone_country()
    kz = data.demand["origin_zone_id"].map(zc) == "KZ"
    to = ", ".join(sorted(set(data.demand.loc[kz, "destination_zone_id"].map(zc))))
    p = write(tmp_path, "d", 'name = "d"\nyear = 2028\n[[modification]]\naction = "demand_scale"'
              '\norigin_country = "KZ"\ndestination_country = "RU"\nfactor = 1.5\n'
              '[[modification]]\naction = "demand_scale"\norigin_country = "KZ"\n'
              'destination_country = "TR"\ncommodity = "oil_products"\nfactor = 2\n')
    with pytest.raises(InputError) as e:
        load_scenario(p, data=data)
    first, second = e.value.problems
    assert first.startswith(
        "line 3, modification[0] (demand_scale): its filters match no demand: origin_country "
        f"'KZ' matches {int(kz.sum())} and destination_country 'RU' "), first
    assert f"demand rows, but no row both; the demand from KZ goes to {to}. The dataset has no " \
        "such trade (KZ>RU): docs/dataset.md, Known gaps, \"Trade\"" in first, first
    # the pair has demand, not of that commodity
    assert "but no row all three; the demand KZ>TR is of " in second, second
    assert "not oil_products. The dataset has no such trade (KZ>TR, oil_products)" in second, second


def test_a_capacity_change_drops_the_published_figure(tmp_path):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    links = apply_scenario(load_corridor(), load_scenario("baku_astara_15mt")).links
    assert links.at["R_AZ_ALAT_OSMANLI", "capacity_tpy"] == 15e6
    assert np.isnan(links.at["R_AZ_ALAT_OSMANLI", "capacity_value"])


def test_scaling_a_tariff_scales_what_each_link_pays(tmp_path):
    """A link with a tariff of its own has it scaled; a link that takes tariff.csv's (or
    tariff_commodity.csv's) gets a factor on that, so that both pay the factor times what they
    paid (a scale of the blank field changed nothing before). The draws of karvan explore
    price the links the same way."""
    from karvan.explore import corridor as ec
    from karvan.explore.inputs import corridor_inputs
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.freight.costs import TARIFF_FACTOR, link_costs
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    paid = [link_costs(data, data.links, com)["tariff_usd_per_tkm"] > 0
            for com in (None, "grain", "containers")]
    rail = (data.links["status"] == "open") & (data.links["mode"] == "rail") & (
        paid[0] & paid[1] & paid[2]) & data.links["tariff_usd_per_tkm"].isna()
    blank, given = data.links.index[rail][:2]
    # the second link first gets a tariff of its own (set), then both are scaled
    setm = (f'[[modification]]\naction = "set"\nfield = "tariff_usd_per_tkm"\nvalue = 0.05\n'
            f'links = ["{given}"]\n')
    scalem = ('[[modification]]\naction = "scale"\nfield = "tariff_usd_per_tkm"\n'
              f'factor = 0.8\nlinks = ["{blank}", "{given}"]\n')
    head = 'year = 2024\nextends = "baseline"\n'
    base = load_scenario(write(tmp_path, "b", 'name = "b"\n' + head + setm))
    cut = load_scenario(write(tmp_path, "t", 'name = "t"\n' + head + setm + scalem))
    before = apply_scenario(data, base).links
    with pytest.warns(CorridorWarning, match="they compound, tariff_usd_per_tkm = 0.05 x 0.8"):
        after = apply_scenario(data, cut).links  # the scale multiplies the value set
    assert after.at[given, "tariff_usd_per_tkm"] == pytest.approx(0.04)
    assert after.at[blank, TARIFF_FACTOR["tariff_usd_per_tkm"]] == pytest.approx(0.8)
    for com in (None, "grain", "containers"):
        c0, c1 = link_costs(data, before, com), link_costs(data, after, com)
        for lid in (blank, given):
            assert c1.at[lid, "tariff_usd_per_tkm"] == pytest.approx(
                0.8 * c0.at[lid, "tariff_usd_per_tkm"], rel=1e-12)
        others = before.index.difference([blank, given])
        assert c1.loc[others, "charge_usd_per_t"].equals(c0.loc[others, "charge_usd_per_t"])
    # karvan explore's charges at the centre: the same as the run's network
    with pytest.warns(CorridorWarning, match="they compound"):
        model = ec.build_corridor_model(data, cut, corridor_inputs(data))
    d = model.draw_arrays(None)
    pos = list(model.graph.link_ids).index(blank)
    want = link_costs(data, after, "grain").at[blank, "charge_usd_per_t"]
    assert d.charges["grain"][pos] == pytest.approx(want, rel=1e-12)


def test_modifications_that_change_nothing_are_warned_about(tmp_path):
    import warnings

    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    p = write(tmp_path, "n", 'name = "n"\nyear = 2024\nextends = "baseline"\n'
              '[[modification]]\naction = "open"\nlinks = ["R_IR_RASHT_QAZVIN"]\n'
              '[[modification]]\naction = "close"\nlinks = ["R_IR_RASHT_ASTARA"]\n'
              '[[modification]]\naction = "set"\nfield = "frequency_per_week"\nvalue = 7\n'
              'links = ["R_IR_RASHT_QAZVIN"]\n'
              '[[modification]]\naction = "scale"\nfield = "capacity_tpy"\nfactor = 0.5\n'
              'links = ["R_RU_SPB_MOSCOW", "R_AZ_ALAT_OSMANLI"]\n'
              '[[modification]]\naction = "set"\nfield = "capacity_tpy"\nvalue = 5e6\n'
              'links = ["R_IR_RASHT_ASTARA", "R_IR_RASHT_QAZVIN"]\n')
    msgs = said_applying(data, p)
    assert any("modification[0] (open)" in m and "already open" in m for m in msgs)
    assert any("modification[1] (close)" in m and "not in use" in m for m in msgs)
    assert any("modification[2] (set frequency_per_week)" in m and "not ferry or sea" in m
               for m in msgs)
    # a blank capacity is unlimited: halving it changes nothing (the other link has one)
    blank = [m for m in msgs if "modification[3] (scale capacity_tpy)" in m]
    assert len(blank) == 1 and "1 of its 2 links" in blank[0] and "unlimited" in blank[0]
    assert "R_RU_SPB_MOSCOW" in blank[0] and "R_AZ_ALAT_OSMANLI" not in blank[0]
    # a value on a link not in use (closed above) changes nothing; the opened one takes it
    unused = [m for m in msgs if "modification[4] (set capacity_tpy)" in m]
    assert len(unused) == 1 and "1 of its 2 links are not in use" in unused[0], msgs
    assert "R_IR_RASHT_ASTARA" in unused[0] and "R_IR_RASHT_QAZVIN" not in unused[0]
    # set first, opened by a later modification in force: nothing to say
    q = write(tmp_path, "q", 'name = "q"\nyear = 2024\nextends = "baseline"\n'
              '[[modification]]\naction = "set"\nfield = "capacity_tpy"\nvalue = 5e6\n'
              'links = ["R_IR_RASHT_ASTARA"]\n'
              '[[modification]]\naction = "open"\nlinks = ["R_IR_RASHT_ASTARA", "G_IR_ASTARA"]\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        assert apply_scenario(data, load_scenario(q)).links.at["R_IR_RASHT_ASTARA",
                                                                "capacity_tpy"] == 5e6
    # the built-in scenarios change what they name
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        for name in ("rasht_astara", "south_caucasus_unblocked", "iran_disrupted",
                     "combined_2030", "baku_astara_15mt"):
            apply_scenario(data, load_scenario(name))


def test_each_kind_of_change_that_changes_nothing_is_looked_at_apart(tmp_path):
    """A scale of Armenia's rail capacities, all blank (unlimited), warned '6 of its 6 links
    are blank' until the check of links not in use came first and, finding some, hid it."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    am = data.links[(data.links["country"] == "AM") & (data.links["mode"] == "rail")]
    assert am["capacity_tpy"].isna().all() and (am["status"] != "open").any()
    p = write(tmp_path, "am", 'name = "am"\nyear = 2028\n[[modification]]\naction = "scale"\n'
              'countries = ["AM"]\nmodes = ["rail"]\nfield = "capacity_tpy"\nfactor = 2\n')
    with pytest.warns(CorridorWarning, match=rf"{len(am)} of its {len(am)} links are blank in "
                                             r"capacity_tpy \(unlimited\)"):
        apply_scenario(data, load_scenario(p))
    # a link is said once, under the first reason found (closed and blank: not in use)
    q = write(tmp_path, "q", 'name = "q"\nyear = 2028\n[[modification]]\naction = "scale"\n'
              'links = ["B_AZ_AM_AGHBAND_RAIL", "B_AM_AZ_MEGHRI_RAIL", "R_AZ_ALAT_OSMANLI"]\n'
              'field = "capacity_tpy"\nfactor = 2\n')
    said = said_applying(data, q)
    assert len(said) == 1 and "not in use" in said[0], said


def test_a_capacity_in_the_wrong_unit_is_warned_about(tmp_path):
    """capacity_tpy = 11 (11 Mt/yr written without its unit) was taken in silence: a 1,999-hour
    queue at the border. A value below the schema's warning bound is now named, as a dataset's
    load names it."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    p = write(tmp_path, "slip", 'name = "slip"\nyear = 2024\nextends = "baseline"\n'
              '[[modification]]\naction = "set"\n'
              'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = 11\n')
    data = load_corridor()
    with pytest.warns(CorridorWarning,
                      match=r"capacity_tpy 11 on link_id B_RU_AZ_SAMUR_RAIL: .*below.*unit"):
        apply_scenario(data, load_scenario(p))
    p = write(tmp_path, "fine", 'name = "fine"\nyear = 2024\nextends = "baseline"\n'
              '[[modification]]\naction = "set"\n'
              'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = 15e6\n')
    apply_scenario(data, load_scenario(p))  # no warning (warnings are errors in the tests)


def test_a_capacity_set_where_both_directions_share_one_says_it_bounds_both(tmp_path):
    """link.csv gives Astara's road crossing 2,920,000 t/yr per direction, half its published
    800 trucks a day of both directions, and the choice model bounds both together by twice
    that. A scenario setting the same 2,920,000 bounds both together by it: it halved the
    crossing (36 % -> 72 % used) while links.csv showed 2,920,000 in both runs, in silence."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.freight.costs import hard_capacity
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()

    def setting(value):
        p = write(tmp_path, "road", 'name = "road"\nyear = 2024\nextends = "baseline"\n'
                  '[[modification]]\naction = "set"\nborders = ["AZ-IR_ASTARA"]\n'
                  f'field = "capacity_tpy"\nvalue = {value}\n')
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            inputs = apply_scenario(data, load_scenario(p))
        said = [str(x.message) for x in w if issubclass(x.category, CorridorWarning)
                and "both directions share" in str(x.message)]
        links = inputs.links.rename(columns={"capacity_tpy": "capacity"})
        _, hard = hard_capacity(links)
        return said, float(hard[links.index.get_loc("B_AZ_IR_ASTARA_ROAD")])

    said, hard = setting(2920000)
    assert hard == 2920000  # what the value means: both directions together
    assert len(said) == 1, said
    assert ("B_AZ_IR_ASTARA_ROAD from 5,840,000 to 2,920,000 (x0.50; its capacity_tpy 2,920,000 "
            "is each direction's half of 800 trucks_per_day_both_directions)") in said[0]
    assert "B_AZ_IR_ASTARA_RAIL" not in said[0]  # the rail link's capacity is its own
    said, hard = setting(5840000)
    assert hard == 5840000 and not said  # the published throughput kept: nothing to say
    said, hard = setting(20000000)
    assert hard == 20000000 and not said  # a raise is taken as meant


def test_a_modification_of_the_file_that_its_year_leaves_out_is_warned_about(tmp_path):
    """A year of 2030 in a 2028 scenario: the modification was inactive in silence (only
    modifications.csv said active False). Those the file inherits keep their own periods."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    p = write(tmp_path, "late", 'name = "late"\nyear = 2028\nextends = "rasht_astara"\n'
              '[[modification]]\naction = "set"\nlinks = ["B_RU_AZ_SAMUR_RAIL"]\n'
              'field = "capacity_tpy"\nvalue = 15e6\nyear = 2030\n')
    data = load_corridor()
    with pytest.warns(CorridorWarning) as w:
        apply_scenario(data, load_scenario(p))
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1, msgs  # rasht_astara's inherited bans (until 2025) are not named
    assert "late.toml" in msgs[0] and "from 2030" in msgs[0] and "year 2028" in msgs[0]
    apply_scenario(data, load_scenario("rasht_astara"))  # a built-in scenario: no warning


def test_inherited_openings_after_the_year_are_warned_about_once(tmp_path):
    """A scenario of 2026 extending combined_2030 ran without the openings of 2028-2030 it
    inherits, in silence; inherited bans that ended before (until 2025) are not named."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    parent = load_scenario("combined_2030")
    later = [m for m in parent.modifications if m.year is not None and m.year > 2026]
    p = write(tmp_path, "early", 'name = "early"\nyear = 2026\nextends = "combined_2030"\n')
    with pytest.warns(CorridorWarning) as w:
        apply_scenario(data, load_scenario(p))
    msgs = [str(x.message) for x in w]
    assert len(msgs) == 1, msgs
    assert f"{len(later)} modification(s) it inherits" in msgs[0]
    assert "combined_2030.toml" in msgs[0]
    assert "come into force after its year 2026 and are not in force" in msgs[0]
    # every opening inherited in force: nothing to say
    p = write(tmp_path, "late", 'name = "late"\nyear = 2030\nextends = "combined_2030"\n')
    apply_scenario(data, load_scenario(p))


def test_a_users_file_may_not_take_a_reference_or_built_in_name_anywhere(tmp_path):
    """Through the Python API a file named reference_2028 was run and then compared with as
    the like-year reference; a copy of baseline.toml beside a user's scenario stood in for the
    built-in baseline, also under a built-in parent (rasht_astara extends baseline), in
    silence."""
    p = write(tmp_path, "reference_2028", 'name = "reference_2028"\nyear = 2028\n'
              'extends = "rasht_astara"\n')
    with pytest.raises(InputError, match="'reference_2028' is the name of a reference"):
        load_scenario(p)
    (tmp_path / "reference_2028.toml").unlink()
    copy = tmp_path / "baseline.toml"
    copy.write_text((builtin_scenario_folder() / "baseline.toml").read_text(encoding="utf-8")
                    .replace("until = 2025", "until = 2035"), encoding="utf-8")
    for parent in ("baseline", "rasht_astara"):
        mine = write(tmp_path, "mine", f'name = "mine"\nyear = 2030\nextends = "{parent}"\n')
        with pytest.raises(InputError) as e:
            load_scenario(mine)
        assert str(copy) in str(e.value) and "'baseline' is the name of a reference" in str(
            e.value), parent
    # karvan's own files take their names
    assert load_scenario("rasht_astara").chain == ("rasht_astara", "baseline")
    assert load_scenario(builtin_scenario_folder() / "baseline.toml").name == "baseline"


def test_a_year_before_the_base_year_is_said_to_run_on_the_base_years_network(tmp_path):
    """Year = 2016 ran on the 2024 network without a word, where karvan run reference_2016 is
    refused (no back-cast of 2016)."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario
    from karvan.scenario.reference import backcast_scenario, backcast_years

    data = load_corridor()
    p = write(tmp_path, "y2016", 'name = "y2016"\nyear = 2016\nextends = "baseline"\n')
    with pytest.warns(CorridorWarning, match="year 2016 is before the base year 2024: this run "
                                             "has the 2024 network"):
        apply_scenario(data, load_scenario(p))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        for y in backcast_years():  # the back-casts have their year's network
            apply_scenario(data, backcast_scenario(y))


def test_a_file_that_changes_one_thing_twice_is_warned_about(tmp_path):
    """Two capacities for one terminal, or an open then a close of one link, in one file: the
    later won in silence. A file may still change what its parent set."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    p = write(tmp_path, "twice", 'name = "twice"\nyear = 2028\nextends = "rasht_astara"\n'
              '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
              'field = "capacity_tpy"\nvalue = 5e6\n'
              '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL", '
              '"R_AZ_ALAT_OSMANLI"]\nfield = "capacity_tpy"\nvalue = 3e6\n'
              '[[modification]]\naction = "close"\nborders = ["AZ-IR_ASTARA"]\n'
              '[[modification]]\naction = "open"\nborders = ["AZ-IR_ASTARA"]\n')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        links = apply_scenario(data, load_scenario(p)).links
    msgs = [str(x.message) for x in w if issubclass(x.category, CorridorWarning)]
    cap = [m for m in msgs if "modification[1] (set) changes the capacity_tpy" in m]
    assert len(cap) == 1 and "T_IR_ASTARA_TERMINAL that line 4, modification[0]" in cap[0]
    assert "R_AZ_ALAT_OSMANLI" not in cap[0]
    assert links.at["T_IR_ASTARA_TERMINAL", "capacity_tpy"] == 3e6  # the later counts
    status = [m for m in msgs if "modification[3] (open) changes the status" in m]
    assert len(status) == 1 and "modification[2] of the same file" in status[0], msgs
    # stages in years are not repeats: a capacity raised in 2027 and again in 2029, a link
    # opened in 2027 and closed in 2029 (it said "give them different years")
    staged = write(tmp_path, "staged", 'name = "staged"\nyear = 2030\nextends = "rasht_astara"\n'
                   '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
                   'field = "capacity_tpy"\nvalue = 6e6\nyear = 2027\n'
                   '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
                   'field = "capacity_tpy"\nvalue = 8e6\nyear = 2029\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        links = apply_scenario(data, load_scenario(staged)).links
    assert links.at["T_IR_ASTARA_TERMINAL", "capacity_tpy"] == 8e6
    # listed against their years: the later listed counts, which is the earlier year's
    backwards = write(tmp_path, "back", 'name = "back"\nyear = 2030\nextends = "rasht_astara"\n'
                      '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
                      'field = "capacity_tpy"\nvalue = 8e6\nyear = 2029\n'
                      '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
                      'field = "capacity_tpy"\nvalue = 6e6\nyear = 2027\n')
    with pytest.warns(CorridorWarning, match="list them by year"):
        apply_scenario(data, load_scenario(backwards))
    # changing what the parent set is what extending is for: nothing to say
    q = write(tmp_path, "mine", 'name = "mine"\nyear = 2028\nextends = "baku_astara_15mt"\n'
              '[[modification]]\naction = "set"\nlinks = ["R_AZ_ALAT_OSMANLI"]\n'
              'field = "capacity_tpy"\nvalue = 12e6\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(q))


def test_two_scales_of_one_field_of_a_link_are_said_to_compound(tmp_path):
    """Two factor = 2 on a ferry's sailings gave x 4 in silence, in one file or in a parent and
    its child; a scale after a set scales the value set, a set after a scale discards it."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import applied_and_said

    data = load_corridor()
    freq = data.links.at["F_AZ_KZ_ALAT_AKTAU", "frequency_per_week"]
    scale = ('[[modification]]\naction = "scale"\nlinks = ["F_AZ_KZ_ALAT_AKTAU"]\n'
             'field = "frequency_per_week"\nfactor = 2\n')
    set_ = ('[[modification]]\naction = "set"\nlinks = ["F_AZ_KZ_ALAT_AKTAU"]\n'
            'field = "frequency_per_week"\nvalue = 10\n')
    head = 'name = "{}"\nyear = 2028\nextends = "{}"\n'
    twice = write(tmp_path, "twice", head.format("twice", "baseline") + scale + scale)
    said = said_applying(data, twice)
    assert said == [f"{twice}: line 9, modification[1] (scale frequency_per_week x 2) multiplies "
                    "the frequency_per_week of F_AZ_KZ_ALAT_AKTAU that twice.toml line 4, "
                    "modification[0] (scale x 2) changed before it (all in force in 2028): they "
                    "compound, x 2 x 2 = x 4 on the frequency_per_week before them (allowed; "
                    "where each factor was meant on the value before them all, write one scale "
                    "with the factor meant)."], said
    links = applied_and_said(data, load_scenario(twice))[0].links
    assert links.at["F_AZ_KZ_ALAT_AKTAU", "frequency_per_week"] == 4 * freq
    # a parent's scale and its child's compound as well: the parent is named by its file
    write(tmp_path, "parent", head.format("parent", "baseline") + scale)
    child = write(tmp_path, "child", head.format("child", "parent") + scale)
    said = said_applying(data, child)
    assert len(said) == 1 and "that parent.toml line 4, modification[0] (scale x 2)" in said[0]
    assert said[0].startswith(f"{child}: line 4, modification[0] (scale") and "x 4" in said[0]
    # a scale after a set scales the value set
    after = write(tmp_path, "after", head.format("after", "baseline") + set_ + scale)
    said = said_applying(data, after)
    assert len(said) == 1 and "after.toml line 4, modification[0] (set = 10)" in said[0]
    assert "they compound, frequency_per_week = 10 x 2 = 20" in said[0], said
    # a set after a scale discards it
    before = write(tmp_path, "before", head.format("before", "baseline") + scale + set_)
    said = said_applying(data, before)
    assert len(said) == 1 and "line 9, modification[1] (set) sets the frequency_per_week of " \
        "F_AZ_KZ_ALAT_AKTAU that line 4, modification[0] (scale) of the same file scaled" in said[0]
    assert "the set discards the scale" in said[0], said
    assert applied_and_said(data, load_scenario(before))[0].links.at[
        "F_AZ_KZ_ALAT_AKTAU", "frequency_per_week"] == 10


@pytest.mark.parametrize(("body", "message"), [
    # one bracket: one table where a list is read ("Input should be a valid list")
    ('[modification]\naction = "close"\nlinks = ["R_IR_RASHT_ASTARA"]\n',
     r"write each modification as a \[\[modification\]\] table \(two brackets\)"),
    # a blank id was shown as nothing between two commas; another case of an id, and a border
    # id among the links, are pointed to
    ('[[modification]]\naction = "close"\nlinks = ["", "r_ir_rasht_astara", "AZ-IR_ASTARA"]\n',
     r"unknown link ids '', r_ir_rasht_astara, AZ-IR_ASTARA \(did you mean R_IR_RASHT_ASTARA "
     r"for r_ir_rasht_astara\?\); give link_id values of link.csv \(AZ-IR_ASTARA: a border id, "
     r"to be given in borders"),
])
def test_mistakes_in_a_scenario_file_are_explained(tmp_path, body, message):
    from karvan.freight.corridor import load_corridor

    p = write(tmp_path, "m", f'name = "m"\nyear = 2028\n{body}')
    with pytest.raises(InputError, match=message):
        load_scenario(p, data=load_corridor())


def test_a_name_given_without_its_toml_is_pointed_to_the_file(tmp_path, monkeypatch):
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.reference import load_scenario_or_reference

    write(tmp_path, "c01", 'name = "c01"\nyear = 2028\n')
    with pytest.raises(InputError, match=r"the file c01.toml is there: give the name with "
                                         r"\.toml"):
        load_scenario_or_reference(str(tmp_path / "c01"), data=load_corridor())
    for name in (".", "", "/"):  # no name to add .toml to (karvan run . was an internal error)
        with pytest.raises(InputError, match="no built-in scenario"):
            load_scenario_or_reference(name, data=load_corridor())


def test_a_factor_on_the_tables_tariff_is_checked_as_a_links_own_tariff(tmp_path):
    """x1000 on Iran's rail, whose links take tariff.csv's rate, gave USD 12,580/t in silence,
    where the same tariff written on a link is refused."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    mod = ('action = "scale"\ncountries = ["IR"]\nmodes = ["rail"]\n'
           'field = "tariff_usd_per_tkm"\nfactor = {}\n')
    with pytest.raises(InputError, match=r"x 1000\), on the tariff of tariff.csv: "
                                         r"tariff_usd_per_tkm is above the maximum 10"):
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(1000))))
    links = apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(2)))).links
    assert (links.loc[(links["country"] == "IR") & (links["mode"] == "rail")
                      & links["tariff_usd_per_tkm"].isna(), "tariff_usd_per_tkm_factor"] == 2).all()


def test_a_link_scale_of_ten_or_more_is_warned_about(tmp_path):
    """Scale capacity_tpy x 50, meant as +50 %, passed in silence (the capacity check warns from
    a factor of 100)."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    mod = ('action = "scale"\nlinks = ["R_AZ_ALAT_OSMANLI"]\nfield = "capacity_tpy"\n'
           'factor = {}\n')
    said = said_applying(data, on_rasht_astara(tmp_path, mod.format(50)))
    assert any("(scale capacity_tpy x 50) multiplies capacity_tpy of 1 links by 50" in w
               and "a factor multiplies, 1.5 is +50 %" in w for w in said), said
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(1.5))))


def test_a_demand_factor_of_ten_or_more_is_warned_about(tmp_path):
    """demand_scale x1000 made 104,839 Mt of demand in silence (150 for +50 %: 155 Mt)."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    mod = 'action = "demand_scale"\norigin_country = "RU"\nfactor = {}\n'
    said = said_applying(data, on_rasht_astara(tmp_path, mod.format(150)))
    assert len(said) == 1 and "(demand_scale x 150) takes" in said[0]
    assert "a factor multiplies, 1.5 is +50 %" in said[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(3))))


def test_a_demand_factor_of_zero_on_all_demand_is_warned_about(tmp_path):
    """demand_scale x 0 without a filter (the dashboard's form with only a factor) ran a
    scenario that carried nothing, in silence; with a filter it removes part of the demand."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    said = said_applying(data, on_rasht_astara(tmp_path, 'action = "demand_scale"\nfactor = 0\n'))
    assert len(said) == 1 and "(demand_scale x 0) with no origin_country, destination_country " \
        "or commodity removes all demand: the run carries nothing" in said[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(on_rasht_astara(
            tmp_path, 'action = "demand_scale"\norigin_country = "RU"\nfactor = 0\n')))


def test_a_capacity_a_hundred_times_off_the_links_is_warned_about(tmp_path):
    """5000 for 5 Mt/yr written in kt filled the Astara terminal in silence (the schema warns
    only below 100 t/yr); a change within a factor 100 is a scenario, not a slip."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    mod = 'action = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\nfield = "capacity_tpy"\nvalue = {}\n'
    with pytest.warns(CorridorWarning, match=r"capacity_tpy of T_IR_ASTARA_TERMINAL goes from "
                                             r"5,000,000 -> 5,000 t/yr, more than 100 times"):
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(5000))))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(1e6))))


def test_a_capacity_far_below_the_datasets_on_a_link_without_one_is_warned_about(tmp_path):
    """2000 for 2 Mt/yr written in kt on the Caspian ferries, which have no capacity, bound
    them at 100 % (81 USD/t) in silence: only values below 100 t/yr, or 100 times off a
    capacity before, were warned of. A tenth of the smallest capacity of a link of its kind in
    the dataset (of any link, where none of its kind has one) is the floor now."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    mod = ('action = "set"\nlinks = ["F_AZ_KZ_ALAT_AKTAU", "R_IR_AMIRABAD_TEHRAN"]\n'
           'field = "capacity_tpy"\nvalue = {}\n')
    p = on_rasht_astara(tmp_path, mod.format(2000))
    said = said_applying(data, p)
    assert len(said) == 1, said
    assert said[0].startswith(f"{p}: line 4, modification[0] (set capacity_tpy = 2000): "
                              "capacity_tpy 2,000 t/yr on R_IR_AMIRABAD_TEHRAN, "
                              "F_AZ_KZ_ALAT_AKTAU, which had none (unlimited)"), said
    assert "ferry: none has one, the smallest of any link is 2,000,000 t/yr" in said[0]
    assert "rail line: 7,000,000 t/yr" in said[0]
    assert "check the unit: capacity_tpy is in t/yr" in said[0]
    # 2 Mt/yr in t/yr is a scenario, not a slip
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        apply_scenario(data, load_scenario(on_rasht_astara(tmp_path, mod.format(2e6))))


def test_problems_come_before_the_warnings_of_allowed_values(tmp_path):
    """With warnings as errors (as here), the capacity-unit warning of one modification was
    raised in place of the error listing the file's problems (an unknown link)."""
    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import apply_scenario

    p = write(tmp_path, "both", 'name = "both"\nyear = 2024\n[[modification]]\naction = "set"\n'
              'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = 11\n'
              '[[modification]]\naction = "close"\nlinks = ["NOPE"]\n')
    with pytest.raises(InputError, match="unknown link ids NOPE"):
        apply_scenario(load_corridor(), load_scenario(p))


def test_the_batch_check_warns_of_a_capacity_in_the_wrong_unit_once(tmp_path):
    """capacity_tpy = 11 passed the check of a batch's scenarios before any run in silence;
    the warning came only when the scenario ran. Now the check warns (an error it is not), once
    for a parent shared by two scenarios, after the problems of the others where there are
    any, and the runs do not warn again."""
    import warnings

    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario import apply
    from karvan.scenario.apply import apply_scenario
    from karvan.scenario.reference import load_scenarios

    write(tmp_path, "slip", 'name = "slip"\nyear = 2024\nextends = "baseline"\n'
          '[[modification]]\naction = "set"\n'
          'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = 11\n')
    a = write(tmp_path, "a", 'name = "a"\nyear = 2024\nextends = "slip"\n')
    b = write(tmp_path, "b", 'name = "b"\nyear = 2024\nextends = "slip"\n')
    data = load_corridor()
    unit = r"slip.toml: line 4, modification\[0\] \(set capacity_tpy = 11\): capacity_tpy 11 "
    with pytest.warns(CorridorWarning, match=unit + r"on link_id B_RU_AZ_SAMUR_RAIL.*unit") as w:
        specs = load_scenarios([str(a), str(b)], data)
    assert len(w) == 1, [str(x.message) for x in w]
    problems, unusual = apply.check_scenario(data, specs[0])
    assert problems == [] and [f for f, _ in unusual] == [str(tmp_path / "slip.toml")]
    for spec in specs:
        apply_scenario(data, spec)  # not again (warnings are errors in the tests)
    # a scenario loaded without the dataset was not checked: its run warns
    with pytest.warns(CorridorWarning, match=unit):
        apply_scenario(data, load_scenario(a))
    # with warnings as errors, the problems of another scenario come first, the warning not
    bad = write(tmp_path, "bad", 'name = "bad"\nyear = 2024\n[[modification]]\n'
                'action = "close"\nlinks = ["NOPE"]\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        with pytest.raises(InputError, match="unknown link ids NOPE"):
            load_scenarios([str(a), str(bad)], data)


def test_a_number_written_as_text_is_an_error(tmp_path):
    """A year = "2030" and a value = "5000000" were read as numbers in silence, although a number
    written as text is among the errors a scenario file reports. Now each is an error with its
    line, field and fix, with the file's other problems."""
    from karvan.scenario import read_scenario_file

    p = write(tmp_path, "t", 'name = "t"\nyear = "2030"\n[[modification]]\naction = "set"\n'
              'links = ["T_IR_ASTARA_TERMINAL"]\nfield = "capacity_tpy"\nvalue = "5000000"\n'
              'year = "2026"\n[[modification]]\naction = "scale"\nlinks = ["X"]\n'
              'field = "speed_kph"\nfactor = "2"\ncolour = 1\n')
    with pytest.raises(InputError) as e:
        read_scenario_file(p)
    assert e.value.problems == [
        "line 2, year: a number written as text ('2030'); write it without quotes: year = 2030.",
        "line 7, modification[0].value: a number written as text ('5000000'); value is the "
        "capacity_tpy to set, in t/yr; write it without quotes: value = 5000000.",
        "line 8, modification[0].year: a number written as text ('2026'); write it without "
        "quotes: year = 2026.",
        "line 13, modification[1].factor: a number written as text ('2'); factor multiplies "
        "speed_kph; write it without quotes: factor = 2.",
        "line 14, modification[1].colour: unknown key; a modification's "
        "keys are action, links, borders, countries, modes, field, value, factor, year, until, "
        "od_countries, origin_country, destination_country, commodity, source, note."]
    p.write_text(p.read_text().replace('"2030"', "2030").replace('"5000000"', "5000000")
                 .replace('"2026"', "2026").replace('"2"', "2").replace("colour = 1\n", ""))
    spec = read_scenario_file(p)
    assert (spec.year, spec.modification[0].value, spec.modification[1].factor) == (2030, 5e6, 2)


@pytest.mark.parametrize(("value", "message"), [
    ('"5 Mt"', "modification[0].value: '5 Mt' is not a number; value is the capacity_tpy to "
               "set, in t/yr; write a plain number, without quotes or a unit."),
    ("-5", "modification[0].value: Input should be greater than or equal to 0 (got -5); value "
           "is the capacity_tpy to set, in t/yr."),
    ("true", "modification[0].value: must be a number (got True); value is the capacity_tpy "
             "to set, in t/yr."),
])
def test_a_value_that_is_no_capacity_names_the_field_and_its_unit(tmp_path, value, message):
    """A value = "5 Mt" gave pydantic's 'unable to parse string as a number' and -5 'greater than
    or equal to 0', neither naming capacity_tpy or its unit."""
    p = write(tmp_path, "v", 'name = "v"\nyear = 2030\n[[modification]]\naction = "set"\n'
              f'links = ["B_RU_AZ_SAMUR_RAIL"]\nfield = "capacity_tpy"\nvalue = {value}\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert e.value.problems == [f"line 7, {message}"]


def test_name_typos_get_the_nearest_name(tmp_path):
    """An extends = "baselin", an action = "opne" and a built-in name misspelt got no hint, while
    link, commodity and key typos did."""
    p = write(tmp_path, "w", 'name = "w"\nyear = 2030\nextends = "baselin"\n'
              '[[modification]]\naction = "opne"\nlinks = ["R_IR_RASHT_ASTARA"]\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert e.value.problems[0].startswith("extends 'baselin' (did you mean baseline?), which "
                                          "is neither beside it nor built in (baseline, ")
    assert e.value.problems[1] == (
        "line 5, modification[0].action: Input should be 'open', 'close', 'set', 'scale', "
        "'demand_scale' or 'ban_transit' (got 'opne'; did you mean open?)")
    # a file beside it is a candidate as well
    write(tmp_path, "my_parent", 'name = "my_parent"\nyear = 2030\n')
    p.write_text('name = "w"\nyear = 2030\nextends = "my_parnt"\n')
    with pytest.raises(InputError, match=r"extends 'my_parnt' \(did you mean my_parent\?\)"):
        load_scenario(p)
    # the file's name for the scenario's: the file was beside it, and "neither beside it nor
    # built in" was said
    p.write_text('name = "w"\nyear = 2030\nextends = "my_parent.toml"\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert e.value.problems == ["extends 'my_parent.toml': extends takes a scenario's name, "
                                'without .toml; write extends = "my_parent".']
    with pytest.raises(InputError, match=r"no built-in scenario 'rasht_astra' \(did you mean "
                                         r"rasht_astara\?\); built-in scenarios are baseline"):
        load_scenario("rasht_astra")


def test_a_field_cut_short_and_a_plural_mode_get_the_nearest_name(tmp_path):
    """A field = "frequency" got no hint (too unlike frequency_per_week for a close spelling),
    nor modes = ["ferries"], whose message listed the six modes as five "and 1 more"."""
    from karvan.freight.corridor import load_corridor

    p = write(tmp_path, "f", 'name = "f"\nyear = 2028\n[[modification]]\naction = "scale"\n'
              'links = ["F_AZ_KZ_ALAT_AKTAU"]\nfield = "frequency"\nfactor = 2\n')
    with pytest.raises(InputError, match=r"\(got 'frequency'; did you mean frequency_per_week\?\)"):
        load_scenario(p)
    p = write(tmp_path, "m", 'name = "m"\nyear = 2028\n[[modification]]\naction = "scale"\n'
              'countries = ["XC"]\nmodes = ["ferries"]\nfield = "tariff_usd_per_t"\n'
              'factor = 0.75\n')
    with pytest.raises(InputError) as e:
        load_scenario(p, data=load_corridor())
    assert e.value.problems == [
        "line 3, modification[0] (scale): unknown modes ferries (did you mean ferry?); the "
        "links have border, ferry, rail, road, sea, transfer."]


def test_a_scenario_named_like_the_built_in_it_extends_is_not_a_cycle(tmp_path):
    """A user's file named rasht_astara extending the built-in rasht_astara was reported as a
    cycle in the built-in file; the user's file is at fault, for its name."""
    p = write(tmp_path, "mine", 'name = "rasht_astara"\nyear = 2028\nextends = "rasht_astara"\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    said = str(e.value)
    assert "cycle" not in said and str(builtin_scenario_folder()) + ":" not in said, said
    assert said.startswith(f"{p}: 3 problems"), said  # all in the user's file
    assert ("name 'rasht_astara' is also the name of the built-in scenario that mine.toml "
            "extends") in said, said
    assert "(and its file: mine.toml)" in said, said
    # a file of that name beside it extends itself: a cycle, said with why
    p = write(tmp_path, "rasht_astara", p.read_text())
    with pytest.raises(InputError, match=r"cycle: rasht_astara -> rasht_astara \(a file beside "
                                         r"it is found before the built-in rasht_astara\)"):
        load_scenario(p)


def test_a_speed_on_a_link_of_length_0_is_warned_about(tmp_path):
    """speed_kph = 50 on a transfer (length 0, its time its 12 h dwell) changed nothing and
    was applied without the warning the other modifications that change nothing get."""
    import warnings

    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.freight.costs import link_costs
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    p = write(tmp_path, "s", 'name = "s"\nyear = 2024\nextends = "baseline"\n'
              '[[modification]]\naction = "set"\nlinks = ["T_IR_ASTARA_TERMINAL"]\n'
              'field = "speed_kph"\nvalue = 50\n'
              '[[modification]]\naction = "scale"\nlinks = ["T_IR_ASTARA_TERMINAL", '
              '"R_AZ_ALAT_OSMANLI"]\nfield = "speed_kph"\nfactor = 2\n')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        inputs = apply_scenario(data, load_scenario(p))
    msgs = [str(x.message) for x in w if issubclass(x.category, CorridorWarning)]
    # the scale multiplies the speed set (said apart)
    assert sum("they compound, speed_kph = 50 x 2 = 100" in m for m in msgs) == 1, msgs
    msgs = [m for m in msgs if "they compound" not in m]
    assert len(msgs) == 2, msgs
    assert "modification[0] (set speed_kph): 1 of its 1 links are of length 0" in msgs[0]
    assert "(T_IR_ASTARA_TERMINAL)" in msgs[0] and "set dwell_h" in msgs[0]
    assert "modification[1] (scale speed_kph): 1 of its 2 links are of length 0" in msgs[1]
    assert "R_AZ_ALAT_OSMANLI" not in msgs[1]
    # and it changes nothing indeed
    before = link_costs(data, data.links).at["T_IR_ASTARA_TERMINAL", "time_h"]
    after = link_costs(data, inputs.links).at["T_IR_ASTARA_TERMINAL", "time_h"]
    assert after == before
    # a length set later makes the speed count: no warning of it (only that the two compound)
    p.write_text(p.read_text() + '[[modification]]\naction = "set"\n'
                 'links = ["T_IR_ASTARA_TERMINAL"]\nfield = "length_km"\nvalue = 2\n')
    with pytest.warns(CorridorWarning, match="they compound") as w:
        inputs = apply_scenario(data, load_scenario(p))
    assert len(w) == 1, [str(x.message) for x in w]
    assert link_costs(data, inputs.links).at["T_IR_ASTARA_TERMINAL", "time_h"] > before


def test_a_modification_added_in_python_is_not_blamed_on_the_file_it_extends():
    """A bad modification added to a loaded scenario was reported as baseline.toml's."""
    import dataclasses

    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import check_scenario
    from karvan.scenario.spec import Modification

    base = load_scenario("baseline")
    bad = dataclasses.replace(base, name="my_case", modifications=(
        *base.modifications,
        Modification(action="set", links=["NOPE"], field="capacity_tpy", value=1e6)))
    problems, _ = check_scenario(load_corridor(), bad)
    i = len(base.modifications)
    assert [(f, p) for f, p in problems if "NOPE" in p] == [(
        "my_case", f"modification[{i}] (added in Python, not in {base.path}) (set): unknown "
                   "link ids NOPE; give link_id values of link.csv.")]


def test_a_capacity_set_on_a_border_of_several_links_is_said_to_be_on_each():
    """The dashboard's form refuses it; a file or a Python scenario set 5 Mt/yr on Astara's
    rail link (unlimited before) and on its road link each, without a word."""
    import dataclasses

    from karvan.freight.corridor import load_corridor
    from karvan.scenario.apply import check_scenario
    from karvan.scenario.spec import Modification

    data = load_corridor()
    base = load_scenario("baseline")
    links = data.links.index[data.links["border_id"] == "AZ-IR_ASTARA"]
    assert len(links) > 1
    own = dataclasses.replace(base, name="my_case", modifications=(
        *base.modifications,
        Modification(action="set", borders=["AZ-IR_ASTARA"], field="capacity_tpy", value=5e6)))
    problems, unusual = check_scenario(data, own)
    assert not problems
    said = [t for _, t in unusual if "not shared by the crossing's rail and road" in t]
    assert len(said) == 1 and all(x in said[0] for x in links)


@pytest.mark.parametrize("given", [
    {"action": "sett", "links": ["X"], "field": "capacity_tpy", "value": "abc"},
    {"action": "set", "field": "capacity_tpy", "value": 5e6},
    {"action": "set", "links": "X", "field": "capacity_tpy", "value": 5e6},
    {"action": "set", "links": ["X"], "field": "capacity", "value": 5e6},
    {"action": "set", "links": ["X"], "field": "capacity_tpy", "value": 5e6, "colour": "red"},
    {"links": ["X"], "field": "speed_kph", "factor": "2", "year": 2030.5},
    {"action": "scale", "links": ["X"], "field": "speed_kph", "factor": -2},
])
def test_a_modification_built_in_python_is_explained_as_in_a_file(tmp_path, given):
    """Modification(...) with a wrong type or value raised pydantic's ValidationError, not an
    InputError naming the same problems a scenario file gets for the same mistake; its remedies
    are Python's (``year=2030``), not a file's TOML (``year = 2030``, "without quotes")."""
    import json
    import re

    from karvan.scenario.spec import Modification

    # the same keys as a scenario file (a JSON string or list of strings is a TOML one)
    p = write(tmp_path, "m", 'name = "m"\nyear = 2030\n[[modification]]\n'
              + "".join(f"{k} = {json.dumps(v)}\n" for k, v in given.items()))
    with pytest.raises(InputError) as in_file:
        load_scenario(p)
    with pytest.raises(InputError) as in_python:
        Modification(**given)
    assert in_python.value.source == "Modification"
    # the same problems, named by field, not by line and modification
    as_fields = [re.sub(r"^line \d+, modification\[0\](\.|: )", "", x)
                 for x in in_file.value.problems]
    assert [x.split(":")[0] for x in in_python.value.problems] == [
        x.split(":")[0] for x in as_fields]
    for py, file in zip(in_python.value.problems, as_fields, strict=True):
        # a check of the whole modification ("needs links = [...]") reads alike in both
        assert py == file or any(t in file for t in ("without quotes", "; add ", "; write "))
        assert not any(t in py for t in ("without quotes", "; add ", "; write a", "[[mod"))
    with pytest.raises(InputError) as validated:
        Modification.model_validate(given)
    assert validated.value.problems == in_python.value.problems


def test_the_constructors_of_the_scenario_models_raise_input_errors():
    from karvan.scenario.spec import Modification, ScenarioFile

    with pytest.raises(InputError) as e:
        Modification(action="sett", links=["X"], field="capacity_tpy", value="abc")
    assert str(e.value) == (
        "Modification: 2 problems:\n"
        "  - action: Input should be 'open', 'close', 'set', 'scale', 'demand_scale' or "
        "'ban_transit' (got 'sett'; did you mean set?)\n"
        "  - value: 'abc' is not a number; value is the capacity_tpy to set, in t/yr; pass an "
        "int or a float, without a unit.")
    with pytest.raises(InputError, match=r"^Modification: value: a number given as text "
                                         r"\('5'\); value is the capacity_tpy"):
        Modification.model_validate_json('{"action": "set", "links": ["X"], '
                                         '"field": "capacity_tpy", "value": "5"}')
    with pytest.raises(InputError) as e:
        ScenarioFile(name="m", year="2030", modification=[{"action": "open", "colour": 1}])
    assert e.value.source == "ScenarioFile"
    assert e.value.problems == [
        "year: a number given as text ('2030'); pass it as a number: year=2030.",
        "modification[0].colour: unknown key; a modification's keys are action, links, borders, "
        "countries, modes, field, value, factor, year, until, od_countries, origin_country, "
        "destination_country, commodity, source, note."]
    # in Python's words, not a file's: a dict where a list is read is no [modification] table
    with pytest.raises(InputError) as e:
        ScenarioFile(name="m", year=2030, modification={"action": "open", "links": ["X"]})
    assert e.value.problems == ["modification: give a list of modifications (each a dict or a "
                                "Modification), not dict."]
    with pytest.raises(InputError) as e:
        ScenarioFile(year=2030, size=3)
    assert e.value.problems == [
        'name: missing; pass name="<letters, digits, _ and ->".',
        "size: unknown key; ScenarioFile's keys are name, title, description, year, extends "
        "and modification."]
    with pytest.raises(InputError, match=r"modification\[0\]: action 'open' needs links"):
        ScenarioFile.model_validate({"name": "m", "year": 2030,
                                     "modification": [{"action": "open"}]})
    # what is right is built as before, within a file too
    spec = ScenarioFile(name="m", year=2030, modification=[{"action": "open", "links": ["X"]}])
    assert spec.modification == (Modification(action="open", links=["X"]),)


def test_a_built_modification_cannot_be_changed_past_its_checks():
    """A Modification is checked as it is built: assigning to it afterwards passed every check
    (a capacity set to -5 t/yr, an action no code knows), and pydantic's model_copy(update=)
    copies an update unchecked."""
    import pickle

    from karvan.scenario.spec import Modification, ScenarioFile

    m = Modification(action="set", links=["X"], field="capacity_tpy", value=5e6)
    for name, value in (("value", -5.0), ("action", "sett"), ("links", [])):
        with pytest.raises(AttributeError, match=rf"cannot be changed once built \({name}\).*"
                                                 rf"model_copy\(update=\{{'{name}'"):
            setattr(m, name, value)
    with pytest.raises(AttributeError, match="cannot be changed once built"):
        del m.value
    # nor its lists (held as tuples): links.append("Y") changed a checked modification
    with pytest.raises(AttributeError, match="append"):
        m.links.append("Y")
    assert m == Modification(action="set", links=["X"], field="capacity_tpy", value=5e6)
    assert m.model_copy(update={"value": 7e6}).value == 7e6
    with pytest.raises(InputError, match=r"^Modification: value: Input should be greater than "
                                         r"or equal to 0 \(got -5\)"):
        m.model_copy(update={"value": -5})
    with pytest.raises(InputError, match="action 'set' takes value, not factor"):
        m.model_copy(update={"factor": 2.0})
    f = ScenarioFile(name="m", year=2030, modification=[m])
    with pytest.raises(AttributeError):
        f.year = 1066
    with pytest.raises(AttributeError, match="append"):
        f.modification.append(Modification(action="close", links=["Y"]))
    with pytest.raises(InputError, match="year"):
        f.model_copy(update={"year": 1066})
    # what explore sends to its workers, and copies, are whole and equal
    assert pickle.loads(pickle.dumps(f)) == f == f.model_copy(deep=True)


def test_a_scenario_built_in_python_is_checked_as_it_is_built():
    """Scenario(...) took anything: a modification given as a dict failed deep in a run
    ("'dict' object has no attribute 'in_force'"), a year given as text with a TypeError."""
    import numpy as np

    from karvan.scenario.spec import Modification, Scenario

    close = {"action": "close", "links": ["R_IR_RASHT_ASTARA"]}
    s = Scenario("x", "", "", np.int64(2028), [close], ["x"])
    assert s.modifications == (Modification(**close),) and s.chain == ("x",)
    assert type(s.year) is int
    with pytest.raises(InputError) as e:
        Scenario("", "", "", "2028", Modification(**close), ("x",))
    assert e.value.source == "Scenario"
    assert e.value.problems == [
        "name: give a non-empty text (got '').",
        "year: give a whole number (got '2028').",
        "modifications: give a sequence of modifications (each a Modification or a dict of "
        "its keys), not Modification."]
    with pytest.raises(InputError) as e:
        Scenario("x", "", "", 2028, [{"action": "sett", "links": ["A"]}, 3, close], ("x",))
    assert [p.split(":")[0] for p in e.value.problems] == ["modifications[0]",
                                                          "modifications[1]"]
    assert "did you mean set?" in e.value.problems[0]
    with pytest.raises(InputError, match="year: give a whole number"):
        Scenario("x", "", "", True, (), ("x",))


def test_a_reversed_border_id_and_an_extended_reference_get_their_fix(tmp_path):
    """`borders = ["AM-AZ_AGHBAND"]` (the countries the other way round) got no suggestion;
    `extends = "reference_2028"` suggested reference_2030, another year."""
    from karvan.freight.corridor import load_corridor

    data = load_corridor()
    p = write(tmp_path, "rev", 'name = "rev"\nyear = 2028\nextends = "baseline"\n'
              '[[modification]]\naction = "open"\nborders = ["AM-AZ_AGHBAND"]\n')
    with pytest.raises(InputError, match=r"unknown border ids AM-AZ_AGHBAND \(did you mean "
                                         r"AZ-AM_AGHBAND\?\)"):
        load_scenario(p, data=data)
    p = write(tmp_path, "ext", 'name = "ext"\nyear = 2028\nextends = "reference_2028"\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert "karvan builds the references itself" in str(e.value)
    assert 'write extends = "baseline" and year = 2028' in str(e.value)
    assert "reference_2030" not in str(e.value)
def test_an_opening_that_leads_nowhere_is_warned_of(tmp_path):
    """Aghband and Ijevan opened in 2028 with the lines on either side still closed or planned
    carried 0 t, and so did the Kars–Igdir line opened alone, in silence: each opening names
    its links, the node where they end and the links there not open, with their status."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario
    from karvan.scenario.reference import reference_scenario

    data = load_corridor()

    def opening(*mods: str):
        text = 'name = "o"\nyear = 2028\nextends = "baseline"\n' + "".join(
            f'[[modification]]\naction = "open"\n{m}\n' for m in mods)
        return said_applying(data, write(tmp_path, "o", text))

    said = [m for m in opening('borders = ["AZ-AM_AGHBAND", "AM-AZ_IJEVAN_GAZAKH", '
                               '"AM-AZ_YERASKH"]') if "nowhere" in m]
    assert len(said) == 1 and "modification[0] (open)" in said[0], said
    for text in ("B_AZ_AM_AGHBAND_RAIL", "B_AZ_AM_AGHBAND_ROAD", "B_AM_AZ_IJEVAN_RAIL",
                 "AZ_AGHBAND_RAIL (R_AZ_HORADIZ_AGHBAND under_construction)",
                 "AZ_AGHBAND (D_AZ_HORADIZ_AGHBAND under_construction)",
                 "AM_NRNADZOR_RAIL (R_AM_MEGHRI_SECTION planned)",
                 "AM_IJEVAN_RAIL (R_AM_YEREVAN_IJEVAN closed)", "open those links too"):
        assert text in said[0], (text, said[0])
    assert "YERASKH" not in said[0]  # Yeraskh leads on to Nakhchivan and Julfa
    for link, there in (("R_TR_KARS_IGDIR", "TR_IGDIR_RAIL (R_TR_IGDIR_DILUCU planned)"),
                        ("R_AM_MEGHRI_SECTION", "AM_MEGHRI_RAIL (B_AM_AZ_MEGHRI_RAIL closed)")):
        said = [m for m in opening(f'links = ["{link}"]') if "nowhere" in m]
        assert len(said) == 1 and f"{link} leads nowhere in 2028" in said[0], said
        assert there in said[0], said[0]
    # with the lines beside them, the rail still ends at Meghri, short of the closed border to
    # Ordubad: a dead end past the links opened is named too
    lines = ('links = ["R_AZ_HORADIZ_AGHBAND", "D_AZ_HORADIZ_AGHBAND", "R_AM_MEGHRI_SECTION", '
             '"R_AM_YEREVAN_IJEVAN"]')
    said = [m for m in opening('borders = ["AZ-AM_AGHBAND", "AM-AZ_IJEVAN_GAZAKH"]', lines)
            if "nowhere" in m]
    assert len(said) == 2, said
    assert all("AM_MEGHRI_RAIL (B_AM_AZ_MEGHRI_RAIL closed)" in m for m in said), said
    assert "B_AZ_AM_AGHBAND_RAIL leads nowhere" in said[0]
    assert "R_AZ_HORADIZ_AGHBAND, R_AM_MEGHRI_SECTION lead nowhere" in said[1]
    # opened through to Julfa, nothing is said
    said = opening('borders = ["AZ-AM_AGHBAND", "AM-AZ_IJEVAN_GAZAKH", "AM-AZ_MEGHRI_ORDUBAD"]',
                   lines, 'links = ["R_AZ_ORDUBAD_JULFA"]')
    assert not [m for m in said if "nowhere" in m], said
    # an opening inherited is checked too: south_caucasus_unblocked opens the Horadiz-Aghband
    # line, and a scenario extending it that closes the Aghband border leaves it a dead spur
    # (nothing was said: only the scenario's own openings were looked at)
    said = [m for m in said_applying(data, write(
        tmp_path, "sc", 'name = "sc"\nyear = 2030\nextends = "south_caucasus_unblocked"\n'
        '[[modification]]\naction = "close"\nborders = ["AZ-AM_AGHBAND"]\n')) if "nowhere" in m]
    # with the line from Julfa through Ordubad and Meghri, a spur ending at Aghband too
    assert len(said) == 4, said
    assert all(m.startswith(str(builtin_scenario_folder() / "south_caucasus_unblocked.toml"))
               for m in said)
    assert "R_AZ_HORADIZ_AGHBAND, D_AZ_HORADIZ_AGHBAND lead nowhere in 2030" in said[0]
    assert "AZ_AGHBAND_RAIL (B_AZ_AM_AGHBAND_RAIL closed)" in said[0]
    assert "R_AZ_ORDUBAD_JULFA leads nowhere" in said[3]
    assert all("AM_NRNADZOR_RAIL (B_AZ_AM_AGHBAND_RAIL closed)" in m for m in said[1:])
    assert all(f"It is inherited: {tmp_path / 'sc.toml'}'s own modifications leave it so" in m
               for m in said)
    # but not where it waits for inherited openings after the scenario's year, which are said
    # (in 2028 the line is open and the border not yet)
    said = said_applying(data, write(tmp_path, "sc", 'name = "sc"\nyear = 2028\n'
                                     'extends = "south_caucasus_unblocked"\n'))
    assert not [m for m in said if "nowhere" in m], said
    assert [m for m in said if "come into force after its year 2028" in m]
    # nor do the built-in scenarios and the references of their years, whose openings lead on
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorridorWarning)
        for name in builtin_scenarios():
            apply_scenario(data, load_scenario(name))
        for year in range(data.base_year + 1, 2041):
            apply_scenario(data, reference_scenario(year, base_year=data.base_year))


def test_a_transit_ban_on_links_not_in_use_is_warned_of(tmp_path):
    """A ban of Russia's transit on the Ijevan crossing, still closed in 2028, banned nothing,
    in silence, where a close of a closed link says that it changes nothing there."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    ban = 'action = "ban_transit"\nborders = ["AM-AZ_IJEVAN_GAZAKH"]\nod_countries = ["RU"]\n'
    p = write(tmp_path, "b", f'name = "b"\nyear = 2028\nextends = "baseline"\n'
              f"[[modification]]\n{ban}")
    said = [m for m in said_applying(data, p) if "(ban_transit)" in m]
    assert len(said) == 1 and "modification[0] (ban_transit)" in said[0], said
    assert said[0].startswith(f"{p}: "), said  # the file, as the scenario's other messages
    assert "not in use" in said[0] and "changes nothing there (B_AM_AZ_IJEVAN_RAIL)" in said[0]
    # named links, one of them in use: the ban acts there, nothing is said
    q = write(tmp_path, "q", 'name = "q"\nyear = 2028\n[[modification]]\n'
              'action = "ban_transit"\nlinks = ["B_AM_AZ_IJEVAN_RAIL", "R_AZ_ALAT_OSMANLI"]\n'
              'od_countries = ["RU"]\n')
    assert not [m for m in said_applying(data, q) if "(ban_transit)" in m]
    # opened by the scenario, after the ban or before it, the crossing is banned: nothing said
    for first, then in ((ban, 'action = "open"\nborders = ["AM-AZ_IJEVAN_GAZAKH"]\n'),
                        ('action = "open"\nborders = ["AM-AZ_IJEVAN_GAZAKH"]\n', ban)):
        r = write(tmp_path, "r", 'name = "r"\nyear = 2028\nextends = "baseline"\n'
                  f"[[modification]]\n{first}[[modification]]\n{then}"
                  '[[modification]]\naction = "open"\nlinks = ["R_AM_YEREVAN_IJEVAN"]\n')
        with warnings.catch_warnings():
            warnings.simplefilter("error", CorridorWarning)
            inputs = apply_scenario(data, load_scenario(r))
        assert any("B_AM_AZ_IJEVAN_RAIL" in ids for ids, _, _ in inputs.bans)


def test_a_project_that_extends_nothing_of_its_reference_is_warned_about(tmp_path):
    """A 2024 scenario written without extends = "baseline" dropped the baseline's transit
    bans in silence, and its users' benefit against baseline (16.2 M USD/yr) held their
    removal beside its own change (0.5). It is warned of, naming the modifications; one that
    extends baseline, or a year in which the reference has none in force, is not."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    body = ('[[modification]]\naction = "set"\nlinks = ["F_AZ_KZ_ALAT_KURYK"]\n'
            'field = "frequency_per_week"\nvalue = 6.2\n')
    p = write(tmp_path, "noext", 'name = "noext"\nyear = 2024\n' + body)
    with pytest.warns(CorridorWarning) as w:
        inputs = apply_scenario(data, load_scenario(p))
    msgs = [str(x.message) for x in w if "extends nothing" in str(x.message)]
    assert len(msgs) == 1, [str(x.message) for x in w]
    assert "extends nothing of baseline, whose 2 modification(s) in force in 2024" in msgs[0]
    assert "ban_transit" in msgs[0] and 'Add extends = "baseline"' in msgs[0]
    # the table of modifications names the field each set or scale changes
    assert inputs.applied.loc[0, "field"] == "frequency_per_week"
    ok = write(tmp_path, "ext", 'name = "ext"\nyear = 2024\nextends = "baseline"\n' + body)
    late = write(tmp_path, "late2028", 'name = "late2028"\nyear = 2028\n' + body)
    for q in (ok, late):  # the baseline's bans end in 2025
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            apply_scenario(data, load_scenario(q))


def test_a_frequency_of_more_than_a_sailing_an_hour_is_warned_about(tmp_path):
    """A frequency of 620 sailings a week (6.2 written without its point) was accepted in
    silence; more than one an hour (168) is warned of, and doubling a line's 3.1 is not."""
    from karvan.freight.corridor import CorridorWarning, load_corridor
    from karvan.scenario.apply import apply_scenario

    data = load_corridor()
    head = 'year = 2024\nextends = "baseline"\n[[modification]]\naction = "set"\n' \
           'links = ["F_AZ_KZ_ALAT_KURYK"]\nfield = "frequency_per_week"\n'
    slip = write(tmp_path, "slip", 'name = "slip"\n' + head + "value = 620\n")
    with pytest.warns(CorridorWarning, match=r"frequency_per_week 620 on link_id "
                                             r"F_AZ_KZ_ALAT_KURYK: is above 168 per week"):
        apply_scenario(data, load_scenario(slip))
    fine = write(tmp_path, "fine", 'name = "fine"\n' + head + "value = 6.2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_scenario(data, load_scenario(fine))


def test_until_before_year_says_how_to_fix_it(tmp_path):
    p = write(tmp_path, "u", 'name = "u"\nyear = 2030\n[[modification]]\naction = "close"\n'
              'links = ["R_AZ_ALAT_OSMANLI"]\nyear = 2030\nuntil = 2028\n')
    with pytest.raises(InputError) as e:
        load_scenario(p)
    said = " ".join(str(e.value).split())
    assert "until (2028) is before year (2030)" in said and "leave until out" in said
    assert str(p) in said and "line" in said
