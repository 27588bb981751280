from __future__ import annotations

import numpy as np
import pytest

from metrics.field import FieldError, max_relative_error


def test_single_frame_hand_computed() -> None:
    # Reference: markers displaced 0, 1e-4, 2e-4 m along x. Sim errs by 3e-5 m on marker 2
    # and 1e-5 m on marker 1 (along y).
    ref = np.array([[0.0, 0, 0], [1e-4, 0, 0], [2e-4, 0, 0]])
    sim = ref + np.array([[0.0, 0, 0], [0, 1e-5, 0], [3e-5, 0, 0]])
    out = max_relative_error(sim, ref)
    assert isinstance(out, FieldError)
    assert out.max_relative_error == pytest.approx(3e-5 / 2e-4)  # 0.15
    assert out.evaluated_frames == 1 and out.skipped_frames == 0
    assert out.rmse == pytest.approx(np.sqrt((0 + 1e-10 + 9e-10) / 3))
    # Markers above 10 % of the peak (2e-5 m): markers 1 and 2 -> mean(0.1, 0.15).
    assert out.per_marker_relative_error == pytest.approx(0.125)


def test_noise_floor_skips_and_counts_frames() -> None:
    ref = np.zeros((3, 2, 3))
    ref[0, 0] = [1e-4, 0, 0]
    ref[1, 0] = [5e-8, 0, 0]  # below the 1e-7 m floor: skipped even though its error is huge
    ref[2, 1] = [0, 0, 2e-4]
    sim = ref.copy()
    sim[0, 1] = [0, 2e-5, 0]  # frame 0: 2e-5 / 1e-4 = 0.2
    sim[1, 0] = [1e-6, 0, 0]  # frame 1 ratio would be 19 -> must not count
    sim[2, 1] = [0, 0, 2.6e-4]  # frame 2: 6e-5 / 2e-4 = 0.3
    out = max_relative_error(sim, ref)
    assert out.skipped_frames == 1 and out.evaluated_frames == 2
    assert out.max_relative_error == pytest.approx(0.3)
    np.testing.assert_allclose(out.per_frame[[0, 2]], [0.2, 0.3])
    assert np.isnan(out.per_frame[1])
    # Lowering the floor brings frame 1 back in.
    low = max_relative_error(sim, ref, noise_floor=1e-8)
    assert low.skipped_frames == 0
    assert low.max_relative_error == pytest.approx((1e-6 - 5e-8) / 5e-8)


def test_all_frames_skipped_gives_nan() -> None:
    out = max_relative_error(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)))
    assert out.evaluated_frames == 0 and out.skipped_frames == 2
    assert np.isnan(out.max_relative_error) and np.isnan(out.rmse)


def test_two_component_fields_and_identity() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(scale=1e-4, size=(5, 10, 2))
    out = max_relative_error(ref, ref)
    assert out.max_relative_error == 0.0 and out.rmse == 0.0
    scaled = max_relative_error(1.1 * ref, ref)
    # Uniform 10 % over-prediction: every marker's error is 10 % of its magnitude.
    assert scaled.max_relative_error == pytest.approx(0.1)
    assert scaled.per_marker_relative_error == pytest.approx(0.1)


def test_shape_mismatch_names_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5, 3\)"):
        max_relative_error(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="u_sim"):
        max_relative_error(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        max_relative_error(np.full((2, 3), np.nan), np.ones((2, 3)))
