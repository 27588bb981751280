"""Robot logs: a documented format, import with validation, recording, and replay.

**Format.** A log is one episode of a robot (a real one, or a reality proxy):

================  ============  ==========================================================
field             shape         meaning and unit
================  ============  ==========================================================
``t``             (T,)          time since the start of the log [s], strictly increasing
``qpos``          (T, nq)       generalized positions, SI (m, rad; quaternions unitless)
``qvel``          (T, nv)       generalized velocities, SI (m/s, rad/s)
``ctrl``          (T, nu)       commands sent to the actuators at ``t[i]`` (held until
                                ``t[i+1]``), in the actuators' units (here wheel speed
                                targets [rad/s])
``sensors/NAME``  (T, ...)      any sensor channel, e.g. ``rover_gyro`` (T, 3) [rad/s] or a
                                tactile marker field (T, N, 3) [m]
================  ============  ==========================================================

plus ``units`` (field -> unit string; required for every field: ``t: s``,
``qpos``/``qvel``: ``SI``, ``ctrl``: ``actuator``, each sensor its own) and
``meta`` (free key -> str/number: task, condition, scenario seed, source).

``.npz``: arrays under the field names (sensors as ``sensors/NAME``) and one
JSON string ``header`` = ``{"units": ..., "meta": ...}``; read with
``allow_pickle=False``. HDF5 (optional extra ``hdf5``: ``h5py``): datasets
``t``, ``qpos``, ``qvel``, ``ctrl``, group ``sensors``, and the same JSON in the
root attribute ``header``.

:func:`load_log` refuses a malformed log with an error naming the field (missing
channel, wrong shape, wrong unit, non-finite value, non-monotonic time).
:func:`record_log` writes a log from an environment; :func:`replay` plays a
log's commands in simulation and reports the trajectory discrepancy.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import mujoco
import numpy as np

REQUIRED: tuple[str, ...] = ("t", "qpos", "qvel", "ctrl")
# Accepted unit strings per required field, and the remedy for common mistakes.
UNITS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "t": ("s",),
    "qpos": ("SI",),
    "qvel": ("SI",),
    "ctrl": ("actuator",),
})
_UNIT_HINTS: Mapping[str, str] = MappingProxyType({
    "ms": "divide the times by 1000 and set units['t'] = 's'",
    "us": "divide the times by 1e6 and set units['t'] = 's'",
    "deg": "convert angles to radians and set the unit to 'SI'",
    "deg/s": "convert to rad/s and set the unit to 'SI'",
    "mm": "convert to metres and set the unit to 'SI'",
})


@dataclass(frozen=True)
class RobotLog:
    """One validated episode log (see the module docstring for the format).

    Attributes:
        t: Times [s], shape (T,).
        qpos: Generalized positions (SI), (T, nq).
        qvel: Generalized velocities (SI), (T, nv).
        ctrl: Actuator commands (actuator units), (T, nu).
        sensors: Sensor channels by name, each (T, ...).
        units: Unit string of every field and sensor.
        meta: Free metadata (task, condition, seed, source).
    """

    t: np.ndarray
    qpos: np.ndarray
    qvel: np.ndarray
    ctrl: np.ndarray
    sensors: Mapping[str, np.ndarray] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)

    def __len__(self) -> int:
        return int(self.t.shape[0])


def _err(field_name: str, msg: str) -> ValueError:
    return ValueError(f"log field {field_name!r}: {msg}")


def validate(log: RobotLog) -> None:
    """Check a log; raise naming the field, the value and what is accepted.

    Raises:
        ValueError: On a missing channel, a wrong shape, a wrong or missing unit,
            a non-finite value or non-increasing time.
    """
    arrays = {"t": log.t, "qpos": log.qpos, "qvel": log.qvel, "ctrl": log.ctrl}
    for name, arr in arrays.items():
        if arr is None:
            raise _err(name, "missing; a log needs t, qpos, qvel and ctrl")
    t = np.asarray(log.t)
    if t.ndim != 1 or t.size < 2:
        raise _err("t", f"shape {t.shape}; expected (T,) with T >= 2")
    n = t.size
    for name in ("qpos", "qvel", "ctrl"):
        a = np.asarray(arrays[name])
        if a.ndim != 2 or a.shape[0] != n:
            raise _err(name, f"shape {a.shape}; expected (T, k) with T = {n} (the length of t)")
    for name, a in {**arrays, **{f"sensors/{k}": v for k, v in log.sensors.items()}}.items():
        a = np.asarray(a)
        if not np.issubdtype(a.dtype, np.number):
            raise _err(name, f"dtype {a.dtype}; expected numbers")
        if a.shape[:1] != (n,):
            raise _err(name, f"shape {a.shape}; expected T = {n} rows (the length of t)")
        bad = ~np.isfinite(a)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise _err(name, f"non-finite value at row {row} (t = {t[row]!r} s); drop or "
                             "interpolate the sample")
    dt = np.diff(t)
    if np.any(dt <= 0):
        i = int(np.flatnonzero(dt <= 0)[0])
        raise _err("t", f"not strictly increasing: t[{i}] = {t[i]!r}, t[{i + 1}] = {t[i + 1]!r}; "
                        "sort the samples and remove duplicates")
    for name in (*REQUIRED, *(f"sensors/{k}" for k in log.sensors)):
        unit = log.units.get(name)
        if unit is None:
            raise _err(name, "no unit in units; give one for every field (e.g. t: 's')")
        ok = UNITS.get(name)
        if ok is not None and unit not in ok:
            hint = _UNIT_HINTS.get(unit, f"convert to {ok[0]!r}")
            raise _err(name, f"unit {unit!r}; accepted {list(ok)} - {hint}")


# --- files ------------------------------------------------------------------------------------


def _header(log: RobotLog) -> str:
    return json.dumps({"units": dict(log.units), "meta": dict(log.meta)}, sort_keys=True)


def _atomic_target(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)


def save_log(log: RobotLog, path: str | os.PathLike[str]) -> Path:
    """Write a log atomically as ``.npz`` or ``.h5``/``.hdf5`` (extra ``hdf5``).

    Returns:
        The path written.

    Raises:
        ValueError: For another suffix.
        RuntimeError: For HDF5 without h5py.
    """
    p = Path(path)
    fd, tmp = _atomic_target(p)
    os.close(fd)
    try:
        if p.suffix == ".npz":
            arrays = {k: np.asarray(getattr(log, k)) for k in REQUIRED}
            arrays.update({f"sensors/{k}": np.asarray(v) for k, v in log.sensors.items()})
            with open(tmp, "wb") as f:
                np.savez_compressed(f, header=np.array(_header(log)), **arrays)
        elif p.suffix in (".h5", ".hdf5"):
            h5py = _h5py()
            with h5py.File(tmp, "w") as f:
                for k in REQUIRED:
                    f.create_dataset(k, data=np.asarray(getattr(log, k)))
                g = f.create_group("sensors")
                for k, v in log.sensors.items():
                    g.create_dataset(k, data=np.asarray(v))
                f.attrs["header"] = _header(log)
        else:
            raise ValueError(f"path suffix {p.suffix!r}; accepted: .npz, .h5, .hdf5")
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:
        raise RuntimeError(
            "HDF5 logs need h5py; install the extra with `pip install 'embodisim[hdf5]'` or "
            "use .npz"
        ) from exc
    return h5py


def _from_parts(arrays: Mapping[str, Any], header: str | None, source: str) -> RobotLog:
    if header is None:
        raise _err("header", f"missing in {source}; it holds the units (JSON)")
    try:
        head = json.loads(header)
    except json.JSONDecodeError as exc:
        raise _err("header", f"not valid JSON in {source}: {exc}") from None
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise _err(missing[0], f"missing channel in {source}; a log needs {list(REQUIRED)}")
    sensors = {k.split("/", 1)[1]: np.asarray(v) for k, v in arrays.items()
               if k.startswith("sensors/")}
    return RobotLog(
        t=np.asarray(arrays["t"], dtype=np.float64),
        qpos=np.asarray(arrays["qpos"]),
        qvel=np.asarray(arrays["qvel"]),
        ctrl=np.asarray(arrays["ctrl"]),
        sensors=sensors,
        units=dict(head.get("units", {})),
        meta=dict(head.get("meta", {})),
    )


def load_log(path: str | os.PathLike[str]) -> RobotLog:
    """Import and validate a ``.npz`` or HDF5 log.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On a malformed log (the message names the field).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"log {p} does not exist")
    if p.suffix == ".npz":
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "header"}
            header = str(z["header"]) if "header" in z.files else None
        return _from_parts(arrays, header, str(p))
    if p.suffix in (".h5", ".hdf5"):
        h5py = _h5py()
        with h5py.File(p, "r") as f:
            arrays = {k: f[k][()] for k in REQUIRED if k in f}
            if "sensors" in f:
                arrays.update({f"sensors/{k}": f["sensors"][k][()] for k in f["sensors"]})
            header = f.attrs.get("header")
        return _from_parts(arrays, None if header is None else str(header), str(p))
    raise ValueError(f"log path suffix {p.suffix!r}; accepted: .npz, .h5, .hdf5")


# --- recording and replay ---------------------------------------------------------------------


def commanded_ctrl(env: Any, action: np.ndarray) -> np.ndarray:
    """Actuator commands a task sends for a normalized action (what a robot logs).

    Args:
        env: A (wrapped) embodisim environment.
        action: The policy's action.

    Returns:
        ``ctrl`` (nu,) in actuator units.

    Raises:
        ValueError: For a task whose action-to-command map is not known here.
    """
    base = env.unwrapped
    name = type(base).__name__
    a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
    if name == "RoverTraverseEnv":
        vmax = float(base.scenario.robot.max_wheel_speed)
        # actuator order fl, fr, rl, rr (sims.rover.WHEELS): left = a[0], right = a[1]
        return np.array([a[0], a[1], a[0], a[1]]) * vmax
    raise ValueError(
        f"task {name}: commanded_ctrl knows RoverTraverseEnv only; for other tasks log "
        "data.ctrl from the robot's own controller"
    )


def _sensor_slices(model: mujoco.MjModel) -> dict[str, slice]:
    return {model.sensor(i).name: slice(int(model.sensor_adr[i]),
                                        int(model.sensor_adr[i] + model.sensor_dim[i]))
            for i in range(model.nsensor)}


def _tracked_markers(env: Any) -> np.ndarray | None:
    """The marker fields a touch task's tactile tracker reports now ``(2, N, 3)`` [m], or None.

    A wrapper that corrupts the field (a reality proxy's tracking noise and lost
    markers) exposes what the tracker reported as ``tracked_markers()``; otherwise the
    task's own field is the reading.
    """
    e = env
    while e is not None:
        fn = getattr(type(e), "tracked_markers", None)
        if fn is not None:
            out = fn(e)
            if out is not None:
                return np.array(out, copy=True)
        e = getattr(e, "env", None)
    markers = getattr(env.unwrapped, "_markers", None)
    return None if markers is None else np.array(markers, copy=True)


def record_log(env: Any, policy: Any, seed: int, meta: Mapping[str, Any] | None = None,
               max_steps: int | None = None, ctrl_source: str = "commanded") -> RobotLog:
    """Run one episode of ``policy`` on ``env`` (e.g. a reality proxy) and log it.

    Row ``i`` holds the state at ``t[i]`` and the command sent then. The
    sensors are MuJoCo's noiseless readings (the robot's drivers' output); a
    touch task also logs the tracked marker fields of both pads as
    ``sensors/tactile_markers`` (T, 2, N, 3) [m], as its tracker reported them.

    Args:
        env: Environment (wrapped or not).
        policy: Object with ``reset(seed)`` and ``act(obs)``.
        seed: Reset seed.
        meta: Extra metadata.
        max_steps: Stop after this many steps (default: the episode's end).
        ctrl_source: ``"commanded"``: the actuator commands of the action
            (:func:`commanded_ctrl`, before any latency); ``"applied"``: the commands
            the robot's joint controller applied from ``t[i]`` to ``t[i+1]`` (what an
            arm's own driver logs; tasks whose commands depend on the state, e.g. the
            touch tasks' inverse kinematics, need it; a latency upstream of it is then
            not visible in the log).

    Returns:
        The log.

    Raises:
        ValueError: For an unknown ``ctrl_source``.
    """
    if ctrl_source not in ("commanded", "applied"):
        raise ValueError(f"ctrl_source={ctrl_source!r}; accepted: 'commanded', 'applied'")
    obs, _ = env.reset(seed=seed)
    policy.reset(seed)
    base = env.unwrapped
    m, d = base.model, base.data
    slices = _sensor_slices(m)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "qpos", "qvel", "ctrl")}
    sens: dict[str, list[np.ndarray]] = {k: [] for k in slices}
    markers: list[np.ndarray] = []
    done = False
    steps = 0
    while True:
        action = policy.act(obs)
        rows["t"].append(np.float64(d.time))
        rows["qpos"].append(d.qpos.copy())
        rows["qvel"].append(d.qvel.copy())
        for k, sl in slices.items():
            sens[k].append(d.sensordata[sl].copy())
        field_now = _tracked_markers(env)
        if field_now is not None:
            markers.append(field_now)
        last = done or (max_steps is not None and steps >= max_steps)
        if ctrl_source == "commanded" or last:
            rows["ctrl"].append(commanded_ctrl(env, action) if ctrl_source == "commanded"
                                else d.ctrl.copy())
        if last:
            break
        obs, _, terminated, truncated, _ = env.step(action)
        if ctrl_source == "applied":
            rows["ctrl"].append(d.ctrl.copy())  # held over the period that just ran
        steps += 1
        done = terminated or truncated
    units = {"t": "s", "qpos": "SI", "qvel": "SI", "ctrl": "actuator",
             **{f"sensors/{k}": "SI" for k in slices}}
    sensors = {k: np.asarray(v) for k, v in sens.items()}
    if markers:
        sensors["tactile_markers"] = np.asarray(markers)
        units["sensors/tactile_markers"] = "SI"
    return RobotLog(
        t=np.asarray(rows["t"]),
        qpos=np.asarray(rows["qpos"]),
        qvel=np.asarray(rows["qvel"]),
        ctrl=np.asarray(rows["ctrl"]),
        sensors=sensors,
        units=units,
        meta={"nq": m.nq, "nv": m.nv, "nu": m.nu, **dict(meta or {})},
    )


@dataclass(frozen=True)
class Discrepancy:
    """How far a replay in simulation drifts from the log.

    Attributes:
        base_rms_m: RMS over time of the floating base's position error [m]
            (``nan`` without a free joint).
        base_final_m: Position error of the base at the end of the log [m].
        qvel_rms: RMS velocity error over all DOFs and times (SI).
        steps: Control steps replayed.
    """

    base_rms_m: float
    base_final_m: float
    qvel_rms: float
    steps: int


def replay(log: RobotLog, model: mujoco.MjModel, delay_steps: int = 0) -> Discrepancy:
    """Play the log's commands in simulation from its first state; compare trajectories.

    Between rows the command is held for ``round((t[i+1] - t[i]) / timestep)``
    physics steps. ``delay_steps`` delays the commands by whole rows (a model of
    actuator latency, e.g. the identified one).

    Args:
        log: The log (its ``qpos``/``qvel`` sizes must match ``model``).
        model: Simulation model (nominal, randomized or identified).
        delay_steps: Command latency [rows].

    Returns:
        The :class:`Discrepancy`.

    Raises:
        ValueError: If the log does not fit the model.
    """
    for name, n in (("qpos", model.nq), ("qvel", model.nv), ("ctrl", model.nu)):
        k = getattr(log, name).shape[1]
        if k != n:
            raise _err(name, f"{k} columns but the model has {n}; replay with the log's model")
    d = mujoco.MjData(model)
    d.time = float(log.t[0])
    d.qpos[:] = log.qpos[0]
    d.qvel[:] = log.qvel[0]
    mujoco.mj_forward(model, d)
    free = np.flatnonzero(model.jnt_type == mujoco.mjtJoint.mjJNT_FREE)
    adr = int(model.jnt_qposadr[free[0]]) if free.size else None
    pos_err: list[float] = []
    vel_err: list[float] = []
    n = len(log)
    for i in range(n - 1):
        j = i - delay_steps
        d.ctrl[:] = log.ctrl[j] if j >= 0 else 0.0
        substeps = max(1, int(round((log.t[i + 1] - log.t[i]) / model.opt.timestep)))
        mujoco.mj_step(model, d, nstep=substeps)
        if adr is not None:
            pos_err.append(float(np.linalg.norm(d.qpos[adr:adr + 3] - log.qpos[i + 1, adr:adr + 3])))
        vel_err.append(float(np.mean((d.qvel - log.qvel[i + 1]) ** 2)))
    pe = np.asarray(pos_err)
    return Discrepancy(
        base_rms_m=float(np.sqrt(np.mean(pe**2))) if pe.size else float("nan"),
        base_final_m=float(pe[-1]) if pe.size else float("nan"),
        qvel_rms=float(np.sqrt(np.mean(vel_err))),
        steps=n - 1,
    )
