"""The schemas as data and the one checker: text decoding, field types and ranges, keys,
references, rules, coverage, and the messages that name file, line, id, value and fix."""

from __future__ import annotations

import json
import time
from importlib import resources

import numpy as np
import pytest

from karvan.errors import InputError
from karvan.schema import Checker, decode, family_schemas, load_schema, parse_csv, schema_names
from karvan.schema.model import parse_schema


def check(schema: str, text: str, name: str = "t.csv") -> Checker:
    c = Checker()
    c.table(load_schema(schema), parse_csv(text, name))
    return c


def test_every_schema_file_is_table_schema_json_and_loads():
    root = resources.files("karvan.schema")
    for name in schema_names():
        fam, table = name.split("/")
        raw = json.loads((root / fam / f"{table}.schema.json").read_text(encoding="utf-8"))
        assert raw["$schema"].endswith("tableschema.json"), name
        s = load_schema(name)
        assert s.fields, name
        assert all(k in s.field_names for k in s.primary_key), name
    assert set(family_schemas("corridor")) >= {"node", "link", "zone", "commodity", "tariff",
                                               "demand", "growth", "observed", "sources"}


def test_a_schema_with_an_unknown_constraint_is_refused():
    with pytest.raises(ValueError, match="unknown constraints"):
        parse_schema("x/y", {"fields": [{"name": "a", "constraints": {"minimun": 0}}]})


def test_a_misspelt_severity_is_refused():
    """A rule or field of severity "warn" reported nothing at all (neither error nor warning)."""
    with pytest.raises(ValueError, match="rule on b: severity 'warn'"):
        parse_schema("x/y", {"fields": [{"name": "a"}, {"name": "b"}], "rules": [
            {"if": {"field": "a", "present": True}, "then": {"field": "b", "required": True},
             "severity": "warn", "message": "m"}]})
    with pytest.raises(ValueError, match="a: severity 'Warning'"):
        parse_schema("x/y", {"fields": [{"name": "a", "severity": "Warning"}]})


@pytest.mark.parametrize("data", [
    "\ufeffa,b\n1,2\n".encode(),
    "\ufeff\ufeffa,b\n1,2\n".encode(),
    b"a,b\r\n1,2\r\n",
])
def test_byte_order_marks_and_line_ends(data):
    t = parse_csv(decode(data, "t.csv"), "t.csv")
    assert t.header == ("a", "b") and list(t.columns["a"]) == ["1"]


def test_windows_1251_is_refused_with_line_and_a_reading():
    data = "zone_id,name\nZ1,Москва\n".encode("cp1251")
    with pytest.raises(InputError, match=r"t.csv line 2, character 4: .* not UTF-8 .*Москва"):
        decode(data, "t.csv")


def test_utf16_and_nul_bytes_are_refused():
    with pytest.raises(InputError, match="UTF-16"):
        decode("a,b\n".encode("utf-16"), "t.csv")
    with pytest.raises(InputError, match="line 2: contains NUL bytes"):
        decode(b"a,b\n1,\x002\n", "t.csv")


def test_rows_of_the_wrong_width_and_broken_quotes_name_their_lines():
    with pytest.raises(InputError) as e:
        parse_csv("a,b\n1,2\n1,2,3\n\n4\n", "t.csv")
    assert "t.csv line 3: 3 fields, but the header (line 1) has 2" in str(e.value)
    assert "t.csv line 5: 1 fields" in str(e.value)
    with pytest.raises(InputError, match="line 2: not readable as CSV"):
        parse_csv('a,b\n"1,2\n', "t.csv")
    with pytest.raises(InputError, match="is empty"):
        parse_csv("", "t.csv")
    with pytest.raises(InputError, match="appear more than once"):
        parse_csv("a,a\n1,2\n", "t.csv")


def test_numbers_must_be_finite_and_in_range():
    c = check("corridor/demand", "origin_zone_id,destination_zone_id,commodity_id,"
              "tonnes_per_year,source,source_date,confidence\n"
              "A,B,c,inf,S,2024,press\nA,C,c,-1,S,2024,press\nA,D,c,1e300,S,2024,press\n"
              "A,E,c,ten,S,2024,press\nA,F,c,nan,S,2024,press\nA,G,c,\"1,000\",S,2024,press\n")
    errs = "\n".join(c.errors())
    assert "tonnes_per_year is not finite on 2 rows (lines 2, 6: 'inf', 'nan')" in errs
    assert "is below the minimum 0 t/yr on 1 row (line 3: '-1')" in errs
    assert "is above the maximum 10000000000 t/yr on 1 row (line 4: '1e300')" in errs
    assert "is not a number on 2 rows (lines 5, 7: 'ten', '1,000')" in errs


def test_integers_must_be_whole_and_fit_64_bits():
    c = check("tntp/trips", "origin,destination,flow\n1,2.5,1\n1,1e30,1\n1,3.0,1\n")
    assert c.errors() == ["t.csv: destination is not a whole number on 2 rows (lines 2, 3: "
                          "'2.5', '1e30'); write a whole number."]


def test_long_values_are_shortened_in_messages():
    c = check("tntp/trips", f"origin,destination,flow\n1,2,{'9' * 40000}x\n")
    msg = c.errors()[0]
    assert "(40001 characters)" in msg and len(msg) < 300


def test_primary_key_repeats_name_both_lines():
    c = check("corridor/tariff", "mode,country,tariff_usd_per_tkm,tariff_usd_per_t,source,"
              "source_date,confidence\nrail,RU,0.02,,S,2024,press\nrail,RU,0.03,,S,2024,press\n")
    assert c.errors() == [
        "t.csv: (mode, country) repeats an earlier row on 1 row (line 3: 'rail, RU as on line "
        "2'); each (mode, country) may appear once."]


def test_enum_pattern_and_required():
    c = check("corridor/zone", "zone_id,name,country,node_id,source,source_date,confidence\n"
              "Z1,a,ü€,N1,S,2024,press\nZ2,b,RU,,S,2024,maybe\n")
    errs = "\n".join(c.errors())
    assert "country does not match ^[A-Z]{2}$ on 1 row (line 2; zone_id Z1: 'ü€'); write an " \
           "ISO 3166-1 alpha-2 code" in errs
    assert "node_id is blank on 1 row (line 3; zone_id Z2)" in errs
    assert "confidence is not one of official, operator, press, estimate, assumption on 1 row " \
           "(line 3; zone_id Z2: 'maybe')" in errs


def test_a_missing_required_column_says_how_to_add_it_and_where():
    # a provenance column left out said only that it was missing, with no fix or line
    c = check("corridor/zone", "zone_id,name,country,node_id,source,confidence\n"
              "Z1,a,RU,N1,S,press\n", "zone.csv")
    assert c.errors() == [
        "zone.csv: has no column source_date (required); add it to the header (line 1) and "
        "give every row its value: date of the figure (as precise as known: YYYY, YYYY-MM or "
        "YYYY-MM-DD, or a range YYYY-YYYY, a quarter YYYY-Qn, 'c. YYYY', 'undated', 'n/a "
        "(static)' for facts that do not date; several separated by ';'); its columns are "
        "zone_id, name, country, node_id, source, confidence."]
    (v,) = [v for v in c.violations if v.severity == "error"]
    assert (v.file, v.line, v.column) == ("zone.csv", 1, "source_date")

def test_a_renamed_or_truncated_column_gets_a_hint():
    c = check("gmns/link", "link_id,from_node_,to_node_id,directed,allowed_us\n1,1,2,true,auto\n",
              "link.csv")
    errs, warns = c.errors(), c.warnings()
    assert errs == ["link.csv: has no column from_node_id (required); column 'from_node_' looks "
                    "like from_node_id cut to 10 characters (a shapefile export does that): "
                    "rename it to from_node_id."]
    assert any("'allowed_us' looks like allowed_uses cut to 10 characters" in w for w in warns)
    c = check("corridor/commodity", "commodity_id,vot_usd_per_t_hr,source,source_date,"
              "confidence\nc,1,S,2024,press\n", "commodity.csv")
    assert "column 'vot_usd_per_t_hr' looks like vot_usd_per_t_h renamed or misspelt" in \
        c.errors()[0]


def test_a_column_is_hinted_at_as_the_one_field_it_looks_most_like():
    # 'capacity_tp' is closer to capacity_tpy than to GMNS's capacity: one hint, not two that
    # contradict each other; in a corridor table it is an error (the column would be dropped)
    c = check("corridor/link", "link_id,capacity_tp\nl1,5\n", "link.csv")
    hints = [m for m in c.errors() + c.warnings() if "looks like" in m]
    assert hints == ["link.csv: column 'capacity_tp' looks like capacity_tpy renamed or "
                     "misspelt: rename it to capacity_tpy; as it is, the column is not read and "
                     "every row is read without capacity_tpy (if the column holds something "
                     "else, give it a name less like capacity_tpy)."]
    (v,) = [v for v in c.violations if "looks like" in v.problem]
    assert (v.severity, v.line, v.column) == ("error", 1, "capacity_tpy")
    # most like a field that is present: no hint at all
    c = check("corridor/link", "link_id,capacity_tpy,capacity_tp\nl1,5,5\n", "link.csv")
    assert not [m for m in c.errors() + c.warnings() if "looks like" in m]


def test_a_value_out_of_bounds_is_not_also_warned_about_as_unusual():
    c = check("corridor/link", "link_id,capacity_tpy\nl1,-5\nl2,50\n", "link.csv")
    assert any("capacity_tpy is not above 0 t/yr on 1 row (line 2; link_id l1: '-5')" in e
               for e in c.errors())
    assert [w for w in c.warnings() if "capacity_tpy" in w] == [
        "link.csv: capacity_tpy is below 100 t/yr on 1 row (line 3; link_id l2: '50'); "
        "unusual; check it."]


def test_messages_name_the_column_an_alias_is_read_from():
    c = check("gmns/demand", "o_zone_id,d_zone_id,tonnes_per_year\n1,2,-100\n", "demand.csv")
    assert c.errors() == ["demand.csv: tonnes_per_year is below the minimum 0 on 1 row (line 2: "
                          "'-100'); tonnes_per_year must be >= 0."]


def test_aliases_read_other_tools_column_names():
    c = Checker()
    t = c.table(load_schema("gmns/demand"), parse_csv("orig_taz,dest_taz,total\n1,2,5\n", "d"))
    assert not c.errors() and t["volume"].tolist() == [5.0] and "o_zone_id" in t


def test_rules_and_references_between_tables():
    c = Checker()
    nodes = c.table(load_schema("gmns/node"), {"node_id": ["a", "b"], "x_coord": [0.0, 1.0],
                                               "y_coord": [0.0, 0.0]}, name="node.csv")
    links = c.table(load_schema("corridor/link"),
                    {"link_id": ["l1", "l2"], "from_node_id": ["a", "a"], "to_node_id": ["b", "z"],
                     "directed": [True, True], "mode": ["rail", "border"],
                     "length_km": [10.0, np.inf], "speed_kph": [0.0, np.nan],
                     "country": ["RU", "RU"], "status": ["open", "open"],
                     "source": ["S", "S"], "source_date": ["2024"] * 2,
                     "confidence": ["press"] * 2}, name="links")
    c.references({"node": nodes, "link": links})
    errs = "\n".join(c.errors())
    assert "links: length_km is not finite on 1 row (link_id l2: 'inf')" in errs
    assert "links: speed_kph is not above 0 km/h on 1 row (link_id l1: '0'); write a speed " \
           "above 0 in km/h" in errs
    assert "links: to_node_id is not a node_id of node.csv on 1 row (link_id l2: 'z')" in errs
    assert "speed_kph is blank" not in errs  # the border link needs no speed


def test_coverage_needs_a_row_for_every_combination_or_a_wildcard():
    prov = "source,source_date,confidence\n"
    c = Checker()
    link = c.table(load_schema("corridor/link"), parse_csv(
        "link_id,from_node_id,to_node_id,directed,mode,length_km,speed_kph,country,status,"
        + prov.strip() + "\n"
        "r1,a,b,false,rail,10,10,RU,open,S,2024,press\n"
        "r2,a,b,false,rail,10,10,AZ,open,S,2024,press\n"
        "s1,a,b,false,sea,10,10,XX,open,S,2024,press\n", "link.csv"))
    tariff = c.table(load_schema("corridor/tariff"), parse_csv(
        "mode,country,tariff_usd_per_tkm,tariff_usd_per_t," + prov
        + "rail,AZ,0.02,,S,2024,press\nsea,*,0.01,,S,2024,press\n", "tariff.csv"))
    c.references({"link": link, "tariff": tariff})
    assert c.errors() == [
        "tariff.csv: has no row for mode rail, country RU: a link without its own tariffs takes "
        "its tariff from this table (needed by 1 rows of link.csv: link_id r1); add a row for "
        "that mode and country (or for the mode and *); write 0 where the traffic is really "
        "free."]


def test_warnings_do_not_stop_reading():
    c = check("gmns/link", "link_id,from_node_id,to_node_id,directed,ped_facility,free_speed\n"
              "1,1,2,,offstreet path,350\n")
    assert not c.errors()
    warns = "\n".join(c.warnings())
    assert "ped_facility is not one of" in warns and "'offstreet path'" in warns
    assert "free_speed is above 300 on 1 row (line 2; link_id 1: '350')" in warns


def test_violations_keep_file_line_column_value_and_fix():
    with pytest.raises(InputError) as e:
        check("tntp/trips", "origin,destination,flow\n1,2,-3\n").raise_if_errors("trips")
    (v,) = e.value.violations
    assert (v.file, v.line, v.column, v.value, v.fix) == ("t.csv", 2, "flow", "-3",
                                                          "flow must be >= 0")


def test_checking_a_large_table_is_fast():
    n = 200_000
    c = Checker()
    t0 = time.perf_counter()
    c.table(load_schema("tntp/trips"),
            {"origin": np.repeat(np.arange(1, 201), 1000).astype(float),
             "destination": np.tile(np.arange(1, 1001), 200).astype(float),
             "flow": np.ones(n)}, name="trips")
    assert not c.errors()
    assert time.perf_counter() - t0 < 20  # generous: the machine is shared


@pytest.mark.parametrize(("cell", "ids"), [
    ("A;B", ["A", "B"]),
    (" A ; ;B;", ["A", "B"]),
    ("A", ["A"]),
    ("", []),
    (" ; ", []),
    (None, []),
    (float("nan"), []),
])
def test_id_list_reads_a_semicolon_cell(cell, ids):
    from karvan.schema.text import id_list

    assert id_list(cell) == ids


@pytest.mark.parametrize(("sep", "what"), [(";", "';'"), ("\t", "tabs")])
def test_a_file_separated_by_semicolons_or_tabs_says_so(sep, what):
    """A continental spreadsheet's CSV gave one 'has no column' line per required column."""
    from karvan.errors import InputError

    text = sep.join(["link_id", "from_node_id", "to_node_id"]) + "\n" + sep.join("112") + "\n"
    with pytest.raises(InputError, match=f"t.csv line 1: the columns are separated by {what}"):
        parse_csv(text, "t.csv")


def test_a_share_out_of_bounds_is_said_without_its_unit_1():
    # "share is above the maximum 1 1": a dimensionless unit was printed as a second 1
    from karvan.schema import Checker
    from karvan.schema.model import parse_schema

    schema = parse_schema("t", {"fields": [{"name": "share", "type": "number", "unit": "1",
                                            "constraints": {"maximum": 1}}]})
    c = Checker()
    c.table(schema, {"share": ["1.1"]}, name="t.csv")
    assert any("share is above the maximum 1 on" in e or "above the maximum 1 (" in e
               or e.rstrip(".").endswith("above the maximum 1") for e in c.errors()), c.errors()
    assert not any("maximum 1 1" in e for e in c.errors())
