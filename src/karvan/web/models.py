"""Request models: the shape and size of what the dashboard accepts, checked before anything
else reads it.

Pydantic checks structure (objects where objects belong, lists where lists belong, known
fields only) and size (text lengths, rows per list, entries per object); a violation answers 422
with the location of each bad field. Values that a person types (a year as text, a number with
a thousands separator, an unknown link id) are left to :mod:`karvan.web.forms`, which names
every problem in words.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

#: most rows of a capacity or demand list, and most entries of a border or link object (the
#: corridor has about 150 links and 30 borders)
MAX_ROWS = 500
#: longest text of a short field (ids, countries, numbers typed as text)
MAX_SHORT = 200
#: longest title
MAX_TITLE = 500

Short = Annotated[str, StringConstraints(max_length=MAX_SHORT)]


def _scalar(v: Any) -> Any:
    """A JSON scalar as it came (number, text, true/false or null), text at most
    :data:`MAX_SHORT` characters long.

    Raises
    ------
    pydantic_core.PydanticCustomError
        A list, an object or a text too long (pydantic reports it as a 422 with its location).
    """
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str):
        if len(v) > MAX_SHORT:
            raise PydanticCustomError("string_too_long", "text of {n} characters; at most {max}",
                                      {"n": len(v), "max": MAX_SHORT})
        return v
    kind = "a list" if isinstance(v, list) else "an object" if isinstance(v, dict) else \
        type(v).__name__
    raise PydanticCustomError("scalar_type", "expected a number or a text, not {kind}",
                              {"kind": kind})


#: a number as JSON gives it or typed as text, true/false or null: checked for its meaning later
Number = Annotated[Any, AfterValidator(_scalar)]
Toggles = Annotated[dict[Short, Short | None], Field(max_length=MAX_ROWS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CapacityRow(_Strict):
    """One capacity setting: a link id and its capacity in Mt per year."""

    target: Short | None = None
    capacity_mt: Number = None


class DemandRow(_Strict):
    """One demand factor, optionally limited to an origin or destination country and a
    commodity."""

    factor: Number = None
    origin_country: Short | None = None
    destination_country: Short | None = None
    commodity: Short | None = None


class ScenarioForm(_Strict):
    """The scenario form of the dashboard (see :mod:`karvan.web.forms` for its meaning)."""

    name: Number = None
    title: Annotated[str, StringConstraints(max_length=MAX_TITLE)] | None = None
    year: Number = None
    extends: Short | None = None
    borders: Toggles | None = None
    links: Toggles | None = None
    capacity: Annotated[list[CapacityRow], Field(max_length=MAX_ROWS)] | None = None
    demand: Annotated[list[DemandRow], Field(max_length=MAX_ROWS)] | None = None
    lp: bool | None = None

    def as_form(self) -> dict:
        """The form as plain data for :func:`karvan.web.forms.build_scenario` (fields left out
        of the request are left out here too)."""
        return self.model_dump(exclude_unset=True)
