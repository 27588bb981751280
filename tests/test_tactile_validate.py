"""Tactile validation cases (coarse subset), FE convergence, and the CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from embodisim.cli import main
from metrics.field import max_relative_error
from sims import tactile_fem
from sims import tactile_validate as tv

# Coarser than the CLI's full run (~5x faster), same targets.
COARSE = tv.ValidationSettings(
    cells_per_radius=4,
    fem_elements=(0.5e-3, 1.0e-3 / 3.0),
    model_cell=0.25e-3,
    dimitriadis_chi=(0.2, 0.5),
)


@pytest.fixture(scope="module")
def coarse_cases() -> list[tv.ValidationCase]:
    return tv.run_validation(COARSE)


def test_every_case_meets_its_target(coarse_cases: list[tv.ValidationCase]) -> None:
    names = {c.case for c in coarse_cases}
    expected = {"hertz_normal_thick", "hertz_tangential_thick", "dimitriadis_force_depth"} | {
        f"fem_{load}_{tag}" for load in ("sphere", "cylinder_edge", "flat_punch", "broad")
        for tag in ("normal", "shear")}
    assert names == expected
    for c in coarse_cases:
        assert np.isfinite(c.max_relative_error), c.case
        assert c.passed, f"{c.case}: {c.max_relative_error:.3f} > {c.target}"
        target = tv.FEM_TARGET if c.case.startswith("fem_") else tv.CLOSED_FORM_TARGET
        assert c.target == target


def test_closed_form_cases_are_tight(coarse_cases: list[tv.ValidationCase]) -> None:
    by = {c.case: c for c in coarse_cases}
    # thick layer a/h = 0.04: only the ~1.1 a/h layer offset and grid error remain
    assert by["hertz_normal_thick"].max_relative_error < 0.06
    assert by["hertz_tangential_thick"].max_relative_error < 0.06
    assert by["dimitriadis_force_depth"].max_relative_error < 0.05


def test_a_thin_layer_fails_the_half_space_reference() -> None:
    # the harness can fail: with h = 2a the layer is far from a half-space
    thin = dataclasses.replace(COARSE, thick_ratio=2.0)
    cases = tv.validate_hertz_thick(thin)
    assert all(not c.passed for c in cases)
    assert all(c.max_relative_error > 1.4 * c.target for c in cases)


def test_wrong_material_fails_the_fem_reference() -> None:
    # model with twice the modulus of the FE gel: every displacement halves -> 50 % error
    s = COARSE
    fields = [tv._traction_fn(tv.thin_layer_loads()["sphere"], 0.0)]
    markers = tv.thin_layer_markers()
    mesh = tactile_fem.build_mesh(s.thin_thickness, 0.5e-3, fine_half_width=5e-3)
    fem = tactile_fem.solve_layer(mesh, s.young, s.nu, fields).at(markers)[0]
    wrong = tv.model_thin_layer(dataclasses.replace(s, young=2 * s.young), fields, markers)[0]
    right = tv.model_thin_layer(s, fields, markers)[0]
    assert max_relative_error(wrong, fem).max_relative_error > tv.FEM_TARGET
    assert max_relative_error(right, fem).max_relative_error < 0.05


def test_fem_converges_under_refinement() -> None:
    s = COARSE
    fields = [tv._traction_fn(tv.thin_layer_loads()["sphere"], tv.SHEAR_RATIO)]
    markers = tv.thin_layer_markers()
    model = tv.model_thin_layer(s, fields, markers)[0]
    errors = []
    for element in (1.0e-3, 0.5e-3, 1.0e-3 / 3.0):
        mesh = tactile_fem.build_mesh(s.thin_thickness, element, fine_half_width=5e-3)
        fem = tactile_fem.solve_layer(mesh, s.young, s.nu, fields).at(markers)[0]
        errors.append(max_relative_error(model, fem).max_relative_error)
    # the FE answer approaches the layer solution monotonically, roughly O(element^2)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02
    assert errors[0] / errors[2] > 4.0


def test_fem_uniform_pressure_is_uniaxial_strain() -> None:
    # a load over the whole fine region: centre u_z -> p h / (lambda + 2 mu). (At nu = 0.48
    # the edge bulge of a nearly incompressible layer reaches the centre: +2.5 %, physical.)
    young, nu, h = 0.3e6, 0.3, 1e-3
    mesh = tactile_fem.build_mesh(h, 0.5e-3, fine_half_width=8e-3, half_width=8e-3 + 6 * h)
    p = 1e3

    def uniform(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([0 * x, 0 * x, np.where((np.abs(x) < 7.5e-3) & (np.abs(y) < 7.5e-3),
                                                p, 0.0)], -1)

    u = tactile_fem.solve_layer(mesh, young, nu, [uniform]).at(np.array([[0.0, 0.0]]))[0, 0]
    mu = young / (2 * (1 + nu))
    lam = 2 * mu * nu / (1 - 2 * nu)
    assert u[2] == pytest.approx(p * h / (lam + 2 * mu), rel=0.005)
    assert abs(u[0]) < 1e-3 * u[2]


def test_case_json_has_the_issue_keys(coarse_cases: list[tv.ValidationCase]) -> None:
    row = coarse_cases[0].to_json()
    assert {"case", "reference", "max_relative_error", "target", "pass"} <= set(row)
    json.dumps(row)


def test_cli_refuses_out_that_is_a_file(tmp_path, capsys) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["tactile", "validate", "--out", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err
