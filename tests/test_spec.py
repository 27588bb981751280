import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenes import spec as S
from scenes.conditions import CONDITIONS, sample_seeded


def _field_strategy(f: dataclasses.Field, tp):
    meta = f.metadata
    if "choices" in meta:
        return st.sampled_from(meta["choices"])
    lo, hi = meta["range"]
    if tp is int or tp == "int":
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def specs(draw):
    base = sample_seeded(draw(st.sampled_from(sorted(CONDITIONS))), draw(st.integers(0, 10**6)))
    d = base.to_dict()
    # perturb numeric leaves of the lighting, atmosphere and regolith sections within range
    for section, cls in (("lighting", S.LightingSpec), ("atmosphere", S.AtmosphereSpec),
                         ("regolith", S.RegolithSpec), ("camera", S.CameraSpec)):
        hints = cls.__annotations__
        for f in dataclasses.fields(cls):
            tp = int if hints[f.name] == "int" else float
            d[section][f.name] = draw(_field_strategy(f, tp))
    return S.ScenarioSpec.from_dict(d)


@settings(max_examples=40, deadline=None)
@given(specs())
def test_json_round_trip(spec):
    text = spec.to_json()
    back = S.ScenarioSpec.from_json(text)
    assert back == spec
    assert back.spec_hash() == spec.spec_hash()
    assert json.loads(text)["schema_version"] == S.SCHEMA_VERSION


def _base() -> dict:
    return sample_seeded("lunar-mare-day", 0).to_dict()


def test_unknown_key_rejected_with_path():
    d = _base()
    d["lighting"]["sun_elevaton_deg"] = 5.0
    with pytest.raises(S.SpecError, match=r"lighting: unknown key\(s\) \['sun_elevaton_deg'\]"):
        S.ScenarioSpec.from_dict(d)


@pytest.mark.parametrize(
    ("section", "key", "value", "pattern"),
    [
        ("lighting", "sun_elevation_deg", 95.0, r"lighting\.sun_elevation_deg: value 95\.0 is outside the accepted range \[-90\.0, 90\.0\] deg"),
        ("regolith", "friction", -1.0, r"regolith\.friction: value -1\.0 is outside"),
        ("atmosphere", "dust_optical_depth", float("nan"), r"atmosphere\.dust_optical_depth"),
        ("body", "name", "pluto", r"body\.name: got 'pluto'; accepted values"),
        ("camera", "width", 10.5, r"camera\.width: expected an integer"),
        ("terrain", "enabled", "yes", r"terrain\.enabled: expected true or false"),
    ],
)
def test_out_of_range_names_field(section, key, value, pattern):
    d = _base()
    d[section][key] = value
    with pytest.raises(S.SpecError, match=pattern):
        S.ScenarioSpec.from_dict(d)


def test_cross_field_rules():
    d = _base()
    d["terrain"]["craters"]["d_min"] = 20.0
    d["terrain"]["craters"]["d_max"] = 10.0
    with pytest.raises(S.SpecError, match=r"terrain\.craters\.d_min: 20\.0 must be smaller"):
        S.ScenarioSpec.from_dict(d)
    d = _base()
    d["goal"]["x"] = 50.0
    with pytest.raises(S.SpecError, match=r"goal: position .* must lie at least 1 m inside"):
        S.ScenarioSpec.from_dict(d)


def test_schema_version_required():
    d = _base()
    d["schema_version"] = 99
    with pytest.raises(S.SpecError, match="schema_version: got 99"):
        S.ScenarioSpec.from_dict(d)


def test_bad_json_text():
    with pytest.raises(S.SpecError, match="not valid JSON"):
        S.ScenarioSpec.from_json("{nope")


def test_spec_determines_scene():
    from scenes.build import build

    spec = sample_seeded("mars-rock-field", 4)
    m1 = build(spec).compile()
    m2 = build(S.ScenarioSpec.from_json(spec.to_json())).compile()
    assert m1.ngeom == m2.ngeom and m1.nmesh == m2.nmesh
    assert (m1.hfield_data == m2.hfield_data).all()
    assert (m1.geom_pos == m2.geom_pos).all()
    assert (m1.mesh_vert == m2.mesh_vert).all()
