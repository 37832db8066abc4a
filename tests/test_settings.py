"""Settings (catzilla/settings.py): validation from the real types of the
fields, and the compiled core's copy (_core/context.pxd Limits) made from it by
name."""
from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from catzilla import Catzilla
from catzilla._core.context import Limits
from catzilla.settings import Settings


@dataclasses.dataclass(frozen=True)
class Extended(Settings):
    # annotation forms Settings' own fields do not use yet
    union_int: int | None = None
    optional_float: Optional[float] = 1.5
    plain_float: float = 2.0
    flag: bool = False
    name: str | None = "x"


def test_union_and_optional_annotations():
    s = Extended(union_int=3, optional_float=2, plain_float=7, name=None)
    assert (s.union_int, s.optional_float, s.plain_float, s.name) == (3, 2.0, 7.0, None)
    assert type(s.optional_float) is float and type(s.plain_float) is float      # an int given as a float
    assert Extended().union_int is None


@pytest.mark.parametrize("kw, message", [
    (dict(union_int="3"), "setting union_int must be int or None, not str"),
    (dict(union_int=True), "setting union_int must be int or None, not bool"),    # bool is no number
    (dict(union_int=1.0), "setting union_int must be int or None, not float"),
    (dict(optional_float=True), "setting optional_float must be float or None, not bool"),
    (dict(plain_float=None), "setting plain_float must be float, not NoneType"),
    (dict(flag=1), "setting flag must be bool, not int"),
    (dict(name=b"x"), "setting name must be str or None, not bytes"),
    (dict(max_body=None), "setting max_body must be int, not NoneType"),
    (dict(block_warning="0.1"), "setting block_warning must be float or None, not str"),
])
def test_wrong_types(kw, message):
    with pytest.raises(TypeError) as info:
        Extended(**kw)
    assert str(info.value) == message


def test_subclasses_of_int_are_stored_plain():
    class Size(int):
        pass
    s = Settings(max_body=Size(10))
    assert type(s.max_body) is int and s.max_body == 10


def c_fields():
    return sorted(n for n, d in vars(Limits).items() if type(d).__name__ == "getset_descriptor")


def test_every_c_field_is_a_setting_of_the_same_name():
    fields = c_fields()
    assert fields and set(fields) <= set(Settings.names())
    s = Settings(max_body=12345, header_timeout=3, ws_max_message_size=99, ws_per_message_deflate=False,
                 high_water=8192, low_water=1024, max_connections=7, max_streams=9, health_path="/h")
    lim = Limits(s)
    for name in fields:
        assert getattr(lim, name) == getattr(s, name), name


def test_none_settings_in_c():
    lim = Limits(Settings(ws_ping_interval=None, max_streams=None, max_connections=None, health_path=None))
    assert lim.ws_ping_interval == 0.0                      # no pings
    assert lim.max_streams == (1 << 63) - 1                 # no limit
    assert lim.max_connections == Settings().connection_limit()
    assert lim.health_path is None


def test_app_settings_reach_the_core():
    app = Catzilla(max_body=77, ws_ping_interval=None)
    lim = Limits(app.settings)
    assert (lim.max_body, lim.ws_ping_interval) == (77, 0.0)


@pytest.mark.parametrize("value", [-0.5, float("inf"), float("nan")])
def test_drain_delay_is_a_finite_number_of_seconds(value):
    with pytest.raises(ValueError, match="drain_delay must be a number of seconds >= 0"):
        Settings(drain_delay=value)
    assert Settings(drain_delay=2).drain_delay == 2.0 and Settings().drain_delay == 0.0
