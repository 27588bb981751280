"""System identification from robot logs, built on ``mujoco.sysid`` (extra ``sysid``).

The unknowns are values of the shared vocabulary of
:func:`sim2real.randomization.apply_values` (``friction_scale``,
``mass_scale:rover``, ``actuator_gain_scale``, ``frictionloss_add``,
``contact_timeconst_scale`` ...) plus the actuator latency
``action_delay_steps``. The logs are cut into short windows (each starts from
the logged state, so chaotic drift of a long rollout does not swamp the
residual); ``mujoco.sysid`` rolls every window out with ``mujoco.rollout`` on
threads and minimizes the normalized sensor residual with its least-squares
optimizer (``mujoco.sysid.optimize``). The latency is a whole number of rows,
so it is chosen by a grid search over the same residual (at the nominal values,
then again at the identified ones).

``mujoco.sysid`` needs ``tabulate`` (part of ``mujoco[sysid]``); the installed
MuJoCo imports the sub-package with an empty namespace when an extra
dependency is missing, which :func:`_sysid` turns into a clear error.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import mujoco
import numpy as np

from sim2real.logs import RobotLog, replay
from sim2real.randomization import apply_values


def _sysid() -> Any:
    import mujoco.sysid as sysid

    if not hasattr(sysid, "optimize"):
        raise RuntimeError(
            "mujoco.sysid imported without its API (a dependency of the 'sysid' extra is "
            "missing, usually tabulate); install it with `pip install 'mujoco[sysid]'`"
        )
    return sysid


@dataclass(frozen=True)
class Unknown:
    """One identified value with its search box.

    Attributes:
        name: ``apply_values`` name, e.g. ``"friction_scale"``.
        initial: Starting guess (usually the nominal value: 1 for scales, 0 for adds).
        low: Lower bound.
        high: Upper bound.
    """

    name: str  # apply_values vocabulary
    initial: float  # start of the search (nominal)
    low: float  # lower bound of the search box
    high: float  # upper bound of the search box

    def __post_init__(self) -> None:
        if not self.low <= self.initial <= self.high:
            raise ValueError(
                f"Unknown({self.name!r}): initial={self.initial!r} must lie in "
                f"[low={self.low!r}, high={self.high!r}]"
            )


# What the rover's logs identify (search boxes wide enough for every rover reality proxy).
ROVER_UNKNOWNS: tuple[Unknown, ...] = (
    Unknown("friction_scale", 1.0, 0.3, 1.6),
    Unknown("mass_scale:rover", 1.0, 0.6, 2.0),
    Unknown("actuator_gain_scale", 1.0, 0.3, 1.6),
    Unknown("frictionloss_add", 0.0, 0.0, 1.5),
    Unknown("contact_timeconst_scale", 1.0, 0.5, 5.0),
)
# Sensors left out of the residual: rangefinder returns jump between surfaces.
# The accelerometer sees every contact impulse (chatter the model need not reproduce
# sample by sample), so it counts less.
ROVER_SENSOR_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {**{f"rover_range_{i}": 0.0 for i in range(5)}, "rover_accel": 0.1}
)


# What a touch task's arm/gripper logs identify (joint encoders and servo-force sensors):
# servo gain (every servo force sensor scales with it) and the object's mass (the arm's
# holding torques while it is lifted). Contact friction is not identifiable from these logs
# (it matters only once an object slips, which a good grasp avoids) and the action latency
# is upstream of the logged servo commands: both are left to domain randomization.
TOUCH_UNKNOWNS: tuple[Unknown, ...] = (
    Unknown("actuator_gain_scale", 1.0, 0.5, 1.5),
    Unknown("mass_scale:object", 1.0, 0.5, 2.0),
)


@dataclass(frozen=True)
class SysidResult:
    """Identified values and how well they explain the logs.

    Attributes:
        values: Identified values incl. ``action_delay_steps``.
        cost_initial: Residual cost (0.5 sum r^2) at the initial values and delay 0.
        cost_final: Residual cost at the identified values.
        delay_costs: Residual cost of the best fit at each candidate delay.
        iterations: Optimizer function evaluations.
        windows: Number of log windows used.
        stderr: Approximate standard error of each value from the Gauss-Newton
            covariance ``s^2 (J^T J)^-1`` (``nan`` where singular).
    """

    values: Mapping[str, float]
    cost_initial: float
    cost_final: float
    delay_costs: Mapping[int, float]
    iterations: int
    windows: int
    stderr: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Windows:
    """Rollout inputs of every log window, ready for ``mujoco.rollout``."""

    states: np.ndarray  # (W, nstate) initial full-physics states
    controls: np.ndarray  # (W, nstep, nu) commands at physics rate (zero-order hold)
    sample_steps: np.ndarray  # (S,) physics-step indices at which rows were logged
    measured: np.ndarray  # (W, S, nsensor) logged sensor rows
    scale: np.ndarray  # (nsensor,) residual scale of each sensor column x its weight^-1


def _windows(
    sysid: Any,
    model: mujoco.MjModel,
    logs: Sequence[RobotLog],
    window: int,
    skip: int,
    delay: int,
    weights: Mapping[str, float],
    max_windows: int | None,
) -> _Windows:
    """Cut logs into windows that start from the logged state, commands delayed by ``delay``."""
    names = [model.sensor(i).name for i in range(model.nsensor)]
    states, controls, measured = [], [], []
    dt = float(model.opt.timestep)
    sub = 1
    for log in logs:
        missing = [n for n in names if n not in log.sensors]
        if missing:
            raise ValueError(
                f"log field 'sensors/{missing[0]}' is missing; sysid needs every sensor of the "
                f"model ({names})"
            )
        sens = np.concatenate([log.sensors[n].reshape(len(log), -1) for n in names], axis=1)
        sub = int(round(float(np.median(np.diff(log.t))) / dt))
        for start in range(skip, len(log) - window, window):
            rows = np.arange(start, start + window)
            src = rows - delay
            ctrl = np.where((src >= 0)[:, None], log.ctrl[np.maximum(src, 0)], 0.0)
            controls.append(np.repeat(ctrl, sub, axis=0))
            states.append(sysid.create_initial_state(model, log.qpos[start], log.qvel[start]))
            measured.append(sens[start + 1:start + window])
    if not states:
        raise ValueError(
            f"logs too short: {[len(lg) for lg in logs]} rows for windows of {window} after "
            f"skipping {skip}; record longer logs or pass a smaller window"
        )
    if max_windows is not None and len(states) > max_windows:
        keep = np.linspace(0, len(states) - 1, max_windows).round().astype(int)
        states = [states[i] for i in keep]
        controls = [controls[i] for i in keep]
        measured = [measured[i] for i in keep]
    meas = np.asarray(measured)
    # Each column scaled by its spread over all windows (floored), then by its weight:
    # sensors in different units then count alike, and a constant column cannot blow up.
    spread = np.maximum(meas.reshape(-1, meas.shape[-1]).std(axis=0), 1e-2)
    w = np.ones(meas.shape[-1])
    for i, n in enumerate(names):
        adr, dim = int(model.sensor_adr[i]), int(model.sensor_dim[i])
        w[adr:adr + dim] = float(weights.get(n, 1.0))
    return _Windows(
        states=np.asarray(states),
        controls=np.asarray(controls),
        sample_steps=sub * np.arange(1, window) - 1,
        measured=meas,
        scale=np.where(w > 0, spread / np.maximum(w, 1e-12), np.inf),
    )


def _residual(model: mujoco.MjModel, win: _Windows, nthread: int) -> np.ndarray:
    """Normalized sensor residual of every window (one ``mujoco.rollout`` call)."""
    import mujoco.rollout as mj_rollout

    datas = [mujoco.MjData(model) for _ in range(nthread)]
    _, sens = mj_rollout.rollout(model, datas, win.states, win.controls)
    pred = np.asarray(sens)[:, win.sample_steps, :]
    return ((pred - win.measured) / win.scale).ravel()


def identify(
    scenes: Sequence[tuple[mujoco.MjSpec | mujoco.MjModel, Sequence[RobotLog]]],
    unknowns: Sequence[Unknown] = ROVER_UNKNOWNS,
    delays: Sequence[int] = (0, 1, 2, 3, 4, 5),
    window: int = 30,
    skip: int = 20,
    sensor_weights: Mapping[str, float] = ROVER_SENSOR_WEIGHTS,
    max_windows: int | None = 16,
    max_iters: int = 30,
    nthread: int = 2,
    diff_step: float = 0.05,
    optimizer: str = "scipy",
    n_starts: int = 32,
    seed: int = 0,
) -> SysidResult:
    """Identify model values and actuator latency from logs with ``mujoco.sysid``.

    The parameters are a ``mujoco.sysid.ParameterDict`` optimized by
    ``mujoco.sysid.optimize`` (scipy trust-region least squares within the
    boxes); the residual is the logged sensors minus those of the windows
    rolled out with ``mujoco.rollout`` from ``mujoco.sysid.create_initial_state``,
    each column divided by its spread over the logs. (``mujoco.sysid``'s own
    residual divides each column by the norm of its measured values, which
    explodes for columns that stay near zero, e.g. a level rover's roll rate.)

    Args:
        scenes: ``(spec, logs)`` per scene: the nominal model (its spec, or the
            compiled model, e.g. with a task's per-episode draws) of the scene a log
            was recorded in (terrain and rocks differ between scenes), and its
            logs. The identified values are shared by all scenes.
        unknowns: Values to identify and their boxes.
        delays: Candidate latencies [control steps].
        window: Rows per rollout window.
        skip: Rows skipped at the start of each log (the drop onto the ground).
        sensor_weights: Per-sensor residual weights (default 1; 0 drops a sensor).
        max_windows: Use at most this many windows, evenly spaced (compute bound).
        max_iters: Optimizer iterations (x (unknowns + 1) residual evaluations).
        nthread: Rollout threads.
        diff_step: Relative finite-difference step of the Jacobian. Contacts make the
            residual rough at tiny scales; a few percent sees the trend, not the chatter.
            (scipy backend only.)
        optimizer: ``mujoco.sysid.optimize`` backend: ``"mujoco"``
            (``mujoco.minimize.least_squares``) or ``"scipy"``.
        n_starts: Sobol points of the box tried before the local optimization.
        seed: Seed of the Sobol scrambling.

    Returns:
        The :class:`SysidResult`.

    Raises:
        RuntimeError: If ``mujoco.sysid`` is unusable.
        ValueError: On logs that do not fit the model or are too short.
    """
    sysid = _sysid()
    if not scenes:
        raise ValueError("scenes is empty; give at least one (spec, logs) pair")
    nominals = [spec.compile() if isinstance(spec, mujoco.MjSpec) else copy.deepcopy(spec)
                for spec, _ in scenes]
    names = [u.name for u in unknowns]
    per_scene = None if max_windows is None else max(1, max_windows // len(scenes))

    def params_at(x: Mapping[str, float]) -> Any:
        pd = sysid.ParameterDict()
        for u in unknowns:
            pd.add(sysid.Parameter(u.name, nominal=u.initial, min_value=u.low, max_value=u.high))
            pd[u.name].value[:] = x[u.name]
        return pd

    def residual_at(vec: np.ndarray, k: int) -> np.ndarray:
        if np.ndim(vec) == 2:  # the mujoco backend evaluates finite differences in columns
            return np.stack([residual_at(vec[:, j], k) for j in range(vec.shape[1])], axis=1)
        values = dict(zip(names, (float(v) for v in np.ravel(vec)), strict=True))
        return np.concatenate([_residual(apply_values(nom, values), w, nthread)
                               for nom, w in zip(nominals, wins[k], strict=True)])

    wins = {k: [_windows(sysid, nom, logs, window, skip, k, sensor_weights, per_scene)
                for nom, (_, logs) in zip(nominals, scenes, strict=True)]
            for k in delays}

    def cost(x: Mapping[str, float], k: int) -> float:
        r = residual_at(np.array([x[n] for n in names]), k)
        return 0.5 * float(r @ r)

    x0 = {u.name: u.initial for u in unknowns}
    grid0 = {k: cost(x0, k) for k in delays}
    # Contacts make the residual a smooth bowl plus a rough floor (a 1 % parameter error
    # already changes which contacts are active), so a local optimizer from the nominal
    # values stalls on the floor. Start it instead from the best of a scrambled Sobol
    # sample of the box (plus the nominal point), at every candidate latency: a weaker
    # actuator also looks like a lag, so latency and gains are confounded.
    from scipy.stats import qmc

    lo = np.array([u.low for u in unknowns])
    hi = np.array([u.high for u in unknowns])
    starts = qmc.scale(qmc.Sobol(len(unknowns), scramble=True, seed=seed).random(n_starts), lo, hi)
    fits: dict[int, tuple[dict[str, float], float, Any]] = {}
    evaluations = 0
    for k in delays:
        best_x, best_c = dict(x0), grid0[k]
        for row in starts:
            xs = dict(zip(names, (float(v) for v in row), strict=True))
            c = cost(xs, k)
            evaluations += 1
            if c < best_c:
                best_x, best_c = xs, c

        def residual_fn(vec: np.ndarray, _params: Any, _k: int = k) -> tuple[Any, ...]:
            return [residual_at(vec, _k)], None, None

        pd = params_at(best_x).copy()
        pd.move_off_bounds()
        kwargs: dict[str, Any] = {"max_iters": max_iters}
        if optimizer == "scipy":
            # scipy backend: max_iters is max_nfev (residual evaluations incl. the Jacobian's)
            kwargs = {"max_iters": max_iters * (len(unknowns) + 1), "diff_step": diff_step}
        # the scipy backend prints its iteration table whatever optimize(verbose=...) says;
        # keep it off stdout (CLI --json output)
        with contextlib.redirect_stdout(io.StringIO()):
            opt, res = sysid.optimize(pd, residual_fn, optimizer=optimizer, verbose=False,
                                      **kwargs)
        evaluations += int(getattr(res, "nfev", 0) or 0)
        xk = {n: float(opt[n].value[0]) for n in names}
        ck = cost(xk, k)
        fits[k] = (xk, ck, res) if ck <= best_c else (best_x, best_c, res)
    grid = {k: f[1] for k, f in fits.items()}
    delay = min(grid, key=grid.__getitem__)
    x, _, result = fits[delay]
    stderr = _stderr(result, names)
    values = {**x, "action_delay_steps": float(delay)}
    return SysidResult(
        values=MappingProxyType(values),
        cost_initial=grid0[0] if 0 in grid0 else float("nan"),
        cost_final=grid[delay],
        delay_costs=MappingProxyType(grid),
        iterations=evaluations,
        windows=sum(int(w.states.shape[0]) for w in wins[delay]),
        stderr=MappingProxyType(stderr),
    )


def _stderr(result: Any, names: Sequence[str]) -> dict[str, float]:
    """Gauss-Newton standard errors ``sqrt(diag(s^2 (J^T J)^-1))``."""
    jac = np.asarray(getattr(result, "jac", np.zeros((0, len(names)))))
    fun = np.asarray(getattr(result, "fun", np.zeros(0)))
    dof = max(fun.size - len(names), 1)
    if jac.ndim != 2 or jac.shape[1] != len(names) or fun.size == 0:
        return {n: float("nan") for n in names}
    s2 = float(fun @ fun) / dof
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        return {n: float("nan") for n in names}
    return {n: float(np.sqrt(max(cov[i, i], 0.0))) for i, n in enumerate(names)}


@dataclass(frozen=True)
class GapClosure:
    """Replay discrepancy of held-out logs before and after identification.

    Attributes:
        nominal_rms_m: Mean base-position RMS error replaying in the nominal model [m].
        identified_rms_m: The same in the identified model [m].
        closed: Fraction of the gap closed, ``1 - identified / nominal``.
    """

    nominal_rms_m: float
    identified_rms_m: float
    closed: float


def gap_closure(nominal: mujoco.MjModel, values: Mapping[str, float],
                logs: Sequence[RobotLog]) -> GapClosure:
    """How much of the replay discrepancy the identified values remove.

    Args:
        nominal: The nominal model.
        values: Identified values (incl. ``action_delay_steps``).
        logs: Logs to replay (preferably not those used for identification).

    Returns:
        The :class:`GapClosure`.
    """
    identified = apply_values(nominal, values)
    delay = int(round(float(values.get("action_delay_steps", 0.0))))
    before = float(np.mean([replay(lg, nominal).base_rms_m for lg in logs]))
    after = float(np.mean([replay(lg, identified, delay).base_rms_m for lg in logs]))
    return GapClosure(before, after, 1.0 - after / before if before > 0 else float("nan"))


@dataclass(frozen=True)
class TactileCalibration:
    """Gel modulus and marker noise of a tactile sensor, identified from robot logs.

    Attributes:
        gel_young_scale: Gel Young's modulus relative to the simulated gel.
        marker_noise_mm: Tracking noise per marker and axis [mm].
        loaded_rows: Log rows used for the modulus (pad loaded, jaw at rest, in a force
            bin shared by the robot's and the simulation's log of a scene).
        free_rows: Log rows used for the noise (no load).
    """

    gel_young_scale: float
    marker_noise_mm: float
    loaded_rows: int
    free_rows: int

    def values(self) -> dict[str, float]:
        """The ``apply_values``/wrapper vocabulary."""
        return {"gel_young_scale": self.gel_young_scale, "marker_noise_mm": self.marker_noise_mm}


_JAW_SENSORS = ("arm_finger_left_act_frc", "arm_finger_right_act_frc")
_JAW_POS = ("arm_finger_left_vel", "arm_finger_right_vel")


def _compliance_rows(logs: Sequence[RobotLog], min_force: float, max_speed: float,
                     free_force: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jaw force [N] and mean normal indentation [mm] of loaded rows; free-row marker values."""
    force, indent, free = [], [], []
    for log in logs:
        for name in (*_JAW_SENSORS, *_JAW_POS, "tactile_markers"):
            if name not in log.sensors:
                raise ValueError(f"log field 'sensors/{name}' is missing; the tactile calibration "
                                 "needs both jaws' force and speed sensors and the marker fields")
        u = np.asarray(log.sensors["tactile_markers"]) * 1e3  # (T, 2, N, 3) mm
        for pad, (fs, vs) in enumerate(zip(_JAW_SENSORS, _JAW_POS, strict=True)):
            f = np.abs(np.asarray(log.sensors[fs]).reshape(-1))
            v = np.abs(np.asarray(log.sensors[vs]).reshape(-1))
            # mean of -u_z over the markers, not clipped: zero-mean tracking noise averages out
            ind = -u[:, pad, :, 2].mean(axis=1)
            loaded = (f > min_force) & (v < max_speed)
            force.append(f[loaded])
            indent.append(ind[loaded])
            free.append(u[f < free_force, pad].reshape(-1))
    return np.concatenate(force), np.concatenate(indent), np.concatenate(free)


def identify_tactile(real_logs: Sequence[RobotLog], sim_logs: Sequence[RobotLog],
                     min_force: float = 0.5, max_speed: float = 0.002,
                     free_force: float = 0.05) -> TactileCalibration:
    """Gel modulus and marker noise from logged marker fields and jaw forces (no bench).

    Linear elasticity: at a given jaw force the gel's indentation is inversely
    proportional to its Young's modulus (the layer's Green's function scales with
    ``1/E`` at fixed Poisson ratio). So the compliance ``k`` = mean normal indentation
    per newton of jaw force (rows where a jaw pushes with more than ``min_force`` and
    is at rest, so the servo force equals the contact force) gives
    ``E_real / E_sim = k_sim / k_real`` at matched forces, with the simulation's
    compliance taken from simulated logs of the same scenes and controller (same
    contact shapes). The
    marker noise is the spread of the tracked fields on rows with no jaw load, less
    the simulation's (zero there).

    Args:
        real_logs: Logs of the robot (reality proxy) with ``sensors/tactile_markers``.
        sim_logs: One log of the nominal simulation per robot log: same scene, same order.
        min_force: Jaw force above which a row counts as loaded [N].
        max_speed: Jaw speed below which a jaw is at rest [m/s].
        free_force: Jaw force below which a row counts as unloaded [N].

    Returns:
        The :class:`TactileCalibration`.

    Raises:
        ValueError: On missing channels or logs without loaded rows.
    """
    if len(real_logs) != len(sim_logs) or not real_logs:
        raise ValueError(f"real_logs has {len(real_logs)} logs, sim_logs {len(sim_logs)}; give one "
                         "simulated log per robot log, of the same scene, in the same order")
    # Compare compliances per scene (an egg and a vial load the gel very differently) and at
    # matched forces: a miscalibrated robot squeezes harder than its simulation, and the
    # indentation per newton changes with force (the patch spreads, part of the field
    # leaves the marker grid), so slopes over different force ranges would bias the ratio.
    # Bins of x1.5 in force; each bin's ratio of median compliances, combined
    # geometrically, weighted by the smaller row count.
    edges = min_force * 1.5 ** np.arange(0, 16)
    logs_r, weights = [], []
    for real, sim in zip(real_logs, sim_logs, strict=True):
        fr, ir, _ = _compliance_rows([real], min_force, max_speed, free_force)
        fs, is_, _ = _compliance_rows([sim], min_force, max_speed, free_force)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            br, bs = (fr >= lo) & (fr < hi), (fs >= lo) & (fs < hi)
            n = min(int(br.sum()), int(bs.sum()))
            if n >= 3:
                k_real = float(np.median(ir[br] / fr[br]))
                k_sim = float(np.median(is_[bs] / fs[bs]))
                if k_real > 0.0 and k_sim > 0.0:
                    logs_r.append(np.log(k_sim / k_real))
                    weights.append(n)
    if not weights:
        raise ValueError(
            f"no scene has a jaw-force range with >= 3 loaded rows (jaw force > {min_force} N "
            "at rest) in both the robot's and the simulation's log; record more grasping "
            "episodes of the same scenes"
        )
    _, _, free_r = _compliance_rows(real_logs, min_force, max_speed, free_force)
    _, _, free_s = _compliance_rows(sim_logs, min_force, max_speed, free_force)
    scale = float(np.exp(np.average(logs_r, weights=weights)))
    var = (float(np.var(free_r)) if free_r.size else 0.0) - (
        float(np.var(free_s)) if free_s.size else 0.0)
    return TactileCalibration(gel_young_scale=scale,
                              marker_noise_mm=float(np.sqrt(max(var, 0.0))),
                              loaded_rows=int(sum(weights)), free_rows=int(free_r.size // 3))
