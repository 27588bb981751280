"""Training throughput of embodisim against raw MuJoCo and Gymnasium's Ant-v5, in one run.

Sections (each measured as ``repeats`` interleaved runs; medians with min-max):

* ``envs``    - for every registered env (and Gymnasium's ``Ant-v5`` as the peer
  baseline, measured the same way): ``env.step`` steps/s through ``gymnasium.make``
  (with its wrappers, as users run it), and raw ``mj_step`` replaying the *same*
  inputs the env applied (``mjSTATE_USER``: ctrl, applied forces, mocap, ...; their
  values at the end of each control period), from the same episode start states, on
  the model each episode ran on (an env may rebuild it at reset) with the physics steps
  the env took in each period (``frame_skip``; none for a step that only reports). The
  replay's end state is compared with the env's bit for bit (``replay_identical``; a
  difference is flagged in the table). The ratio env/raw is
  paired per repeat and uses process CPU time (``time.process_time``), which other
  processes on a shared machine barely disturb; wall-time ratios are in the JSON.
  An env that cannot be built headless is skipped with the reason.
* ``tactile`` - env steps/s with tactile pads on vs off, for every registered env
  whose constructor has a tactile switch (one of :data:`TACTILE_SWITCHES`): the
  scripted reference controller's actions of one episode (so the pads actually
  touch handles and objects; random actions rarely do) are replayed on a pads-on
  and a pads-off env **step by step in alternation**, thread CPU time; the pads
  are geoms either way, so the physics is identical and the difference is sensing.
* ``camera``  - low-light radiometric camera (``sims.camera.RadiometricCamera``,
  render + photon/noise model) frames per CPU second at 64x64 and 128x128 on the
  rover's camera in the sunlit, shadow-casting ``lunar-terminator`` scene
  (``benchmarks/bench_camera.py`` splits render vs sensor model).
* ``scenes``  - scene generation (``scenes.generate.generate``: sample + settle
  check) scenes/s over the condition catalog.
* ``vector``  - ``make_vec`` env-steps/s: batch backend on 1 and 2 threads and
  Gymnasium's ``SyncVectorEnv``, same task, same number of envs.

Targets are reported, never asserted (:data:`TARGETS`). Run:

    python benchmarks/bench_throughput.py [--quick] [--json] [--out DIR]
    embodisim bench [--quick] [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import inspect
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "osmesa")  # before mujoco is imported; EGL users set it
os.environ.setdefault("LP_NUM_THREADS", "0")  # llvmpipe rasterises in the calling thread (CPU time)

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

SECTIONS = ("envs", "tactile", "camera", "scenes", "vector")
# Constructor keywords recognised as a tactile on/off switch (bool).
TACTILE_SWITCHES = ("use_touch", "tactile", "use_tactile", "tactile_enabled", "enable_tactile",
                    "with_tactile")
PEER_ENV = "Ant-v5"
VECTOR_TASK = "embodisim/RoverTraverse-v0"
CAMERA_CONDITION = "lunar-terminator"  # low sun: long shadows (the costly case)

# name -> (comparison, threshold, what it measures); from issue #9 "Targets".
TARGETS: dict[str, tuple[str, float, str]] = {
    "env_vs_raw": (">=", 0.9, "every env's step rate >= 0.9 x raw mj_step"),
    "tactile_overhead": ("<=", 0.05, "tactile pads add <= 5 % to the step time"),
    "batch_2t_vs_1t": (">=", 1.8, "batch backend on 2 threads >= 1.8 x its 1-thread rate"),
    "batch_vs_sync": (">=", 1.5, "batch backend (2 threads) >= 1.5 x SyncVectorEnv"),
    "camera_64_fps": (">=", 150.0, "low-light camera at 64x64 >= 150 frames/s"),
}


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run (counts, not seconds: no wall-clock budget)."""

    steps: int = 100  # env steps per timed run (per env, per repeat)
    repeats: int = 5  # interleaved repeats of every measurement
    camera_frames: int = 40  # frames per timed camera run
    camera_sizes: tuple[int, ...] = (64, 128)  # square image sides [px]
    scene_count: int = 8  # scenes generated per repeat
    vec_envs: int = 16  # sub-environments of the vector-env comparison
    vec_steps: int = 50  # vector steps per timed run
    sections: tuple[str, ...] = SECTIONS  # which sections to run
    env_ids: tuple[str, ...] | None = None  # None: every registered embodisim env
    peer: bool = True  # also measure Gymnasium's Ant-v5
    seed: int = 0  # seed of actions and resets

    def __post_init__(self) -> None:
        """Validate counts and section names."""
        for name in ("steps", "repeats", "camera_frames", "scene_count", "vec_envs", "vec_steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"BenchConfig.{name}: got {getattr(self, name)}; accepted: an integer >= 1")
        bad = [s for s in self.sections if s not in SECTIONS]
        if bad:
            raise ValueError(f"BenchConfig.sections: unknown {bad}; accepted: {list(SECTIONS)}")


QUICK = BenchConfig(steps=30, repeats=3, camera_frames=10, scene_count=2, vec_envs=4, vec_steps=10)


# --- helpers -----------------------------------------------------------------------------------
def _now() -> np.ndarray:
    """(wall, process CPU) seconds. Single-threaded comparisons use CPU time, which other
    processes on a shared machine barely disturb; thread scaling needs wall time."""
    return np.array([time.perf_counter(), time.process_time()])


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and count of repeated measurements."""
    vals = [float(v) for v in values]
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    import gymnasium

    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mujoco": mujoco.__version__,
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "mujoco_gl": os.environ.get("MUJOCO_GL", ""),
        "utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _registered_ids() -> list[str]:
    import tasks  # noqa: F401  (registers)
    from tasks.registry import TASKS

    return [t.id for t in TASKS]


# --- env vs raw ----------------------------------------------------------------------------------
def _integration_state(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state, spec)
    return state


@dataclass
class Segment:
    """One episode's stretch of an env run: the model it ran on (envs that rebuild their model
    at reset, e.g. the cloth tasks' fabric, give each episode its own), its start state, the
    inputs of every control period with the physics steps the env took in it (from the clock:
    BeaconLocalize's report step, for one, takes none) and the state the env reached at its end."""

    model: mujoco.MjModel
    start: np.ndarray
    inputs: list[tuple[np.ndarray, int]] = field(default_factory=list)
    end: np.ndarray | None = None


Segments = list[Segment]


def _inputs(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    """Every user input of the last control period: ctrl, applied forces, mocap, eq_active,
    userdata (``mjSTATE_USER``), as the env left them."""
    spec = mujoco.mjtState.mjSTATE_USER
    out = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, out, spec)
    return out


def _env_run(env: gym.Env, actions: np.ndarray, seed: int) -> tuple[np.ndarray, Segments]:
    """Time ``env.step`` over ``actions``; return (wall, CPU) seconds and the episode segments.

    The env's ``model`` and ``data`` are looked up again after every reset: an env may replace
    them there (a new fabric, a new scene), and the replay must run what the env ran.
    """
    u = env.unwrapped
    env.reset(seed=seed)
    model, data = u.model, u.data
    segments: Segments = [Segment(model, _integration_state(model, data))]
    elapsed = np.zeros(2)
    for a in actions:
        t_sim = data.time
        t0 = _now()
        _, _, term, trunc, _ = env.step(a)
        elapsed += _now() - t0
        nstep = round((data.time - t_sim) / model.opt.timestep)
        segments[-1].inputs.append((_inputs(model, data), nstep))
        if term or trunc:
            segments[-1].end = _integration_state(model, data)
            env.reset()
            model, data = u.model, u.data
            segments.append(Segment(model, _integration_state(model, data)))
    segments[-1].end = _integration_state(model, data)
    return elapsed, segments


def _raw_run(segments: Segments) -> tuple[np.ndarray, bool]:
    """Time ``mj_step`` replaying the segments' inputs from their start states.

    Returns (wall, CPU) seconds and whether every segment ended in the env's state bit for bit
    (if not, the raw loop simulated something else and the ratio is not a like-for-like one).
    """
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    user = mujoco.mjtState.mjSTATE_USER
    datas = {id(s.model): mujoco.MjData(s.model) for s in segments}
    elapsed = np.zeros(2)
    identical = True
    for seg in segments:
        model, data = seg.model, datas[id(seg.model)]
        mujoco.mj_setState(model, data, seg.start, spec)
        t0 = _now()
        for u, nstep in seg.inputs:
            mujoco.mj_setState(model, data, u, user)
            if nstep:
                mujoco.mj_step(model, data, nstep)
        elapsed += _now() - t0
        identical = identical and np.array_equal(_integration_state(model, data), seg.end)
    return elapsed, identical


def env_vs_raw(make_env: Callable[[], gym.Env], cfg: BenchConfig) -> dict[str, Any]:
    """Steps/s of ``env.step`` and of raw ``mj_step`` on the same controls, interleaved."""
    env = make_env()
    try:
        u = env.unwrapped
        frame_skip = int(u.frame_skip)
        env.action_space.seed(cfg.seed)
        actions = np.stack([env.action_space.sample() for _ in range(cfg.steps)])
        _env_run(env, actions[: min(5, cfg.steps)], cfg.seed)  # warm-up (lazy allocations)
        env_rates, raw_rates, ratios, wall_ratios, identical = [], [], [], [], []
        for r in range(cfg.repeats):
            if r % 2 == 0:
                t_env, segments = _env_run(env, actions, cfg.seed + r)
                t_raw, same = _raw_run(segments)
            else:  # raw first; it replays the segments the env recorded on the previous seed
                t_raw, same = _raw_run(segments)
                t_env, segments = _env_run(env, actions, cfg.seed + r - 1)
            identical.append(same)
            env_rates.append(cfg.steps / t_env[1])
            raw_rates.append(cfg.steps / t_raw[1])
            ratios.append(t_raw[1] / t_env[1])
            wall_ratios.append(t_raw[0] / t_env[0])
        overhead_us = [1e6 * (1.0 / e - 1.0 / w) for e, w in zip(env_rates, raw_rates, strict=True)]
        return {
            "clock": "process CPU time",
            "env_steps_per_s": summary(env_rates),
            "raw_steps_per_s": summary(raw_rates),
            "ratio": summary(ratios),
            "ratio_wall": summary(wall_ratios),
            "overhead_us_per_step": summary(overhead_us),
            # False: the replay did not reproduce the env's trajectory, so the raw loop
            # simulated something else (contacts, a different model) and the ratio is suspect
            "replay_identical": all(identical),
            "frame_skip": frame_skip,
            "timestep_s": float(u.model.opt.timestep),
            "nv": int(u.model.nv),
            "ngeom": int(u.model.ngeom),
        }
    finally:
        env.close()


def bench_envs(cfg: BenchConfig) -> dict[str, Any]:
    """Every registered env (and the peer) vs raw mj_step."""
    registered = _registered_ids()  # also registers the ids with Gymnasium
    ids = list(cfg.env_ids) if cfg.env_ids is not None else registered
    out: dict[str, Any] = {}
    if cfg.peer:
        ids = [*ids, PEER_ENV]
    for env_id in ids:
        _log(f"envs: {env_id}")
        try:
            out[env_id] = env_vs_raw(lambda env_id=env_id: gym.make(env_id), cfg)
        except Exception as exc:  # noqa: BLE001  (a task that cannot run headless is reported)
            out[env_id] = {"skipped": f"{type(exc).__name__}: {exc}"}
    return out


# --- tactile on/off ------------------------------------------------------------------------------
def _tactile_switch(env_id: str) -> str | None:
    from tasks.registry import _load, get_task

    params: set[str] = set()
    for klass in _load(get_task(env_id).entry_point).__mro__:  # subclasses may pass **kwargs up
        init = klass.__dict__.get("__init__")
        if init is not None:
            params |= set(inspect.signature(init).parameters)
    return next((p for p in TACTILE_SWITCHES if p in params), None)


def _scripted_actions(env_id: str, seed: int, steps: int) -> np.ndarray:
    """Actions of the scripted reference controller over one episode (at most ``steps``)."""
    from tasks.registry import make_policy

    env = gym.make(env_id)
    try:
        pol = make_policy(env_id, "scripted", env)
        obs, _ = env.reset(seed=seed)
        pol.reset(seed)
        actions = []
        for _ in range(steps):
            a = np.asarray(pol.act(obs))
            actions.append(a)
            obs, _, term, trunc, _ = env.step(a)
            if term or trunc:
                break
        return np.stack(actions)
    finally:
        env.close()


def _alternating_cpu(on: gym.Env, off: gym.Env, actions: np.ndarray, seed: int
                     ) -> tuple[float, float]:
    """Thread CPU seconds of ``on`` and ``off`` stepping the same actions in alternation."""
    cpu = {id(on): 0.0, id(off): 0.0}
    for e in (on, off):
        e.reset(seed=seed)
    for i, a in enumerate(actions):
        for e in ((on, off) if i % 2 == 0 else (off, on)):
            t0 = time.thread_time()
            _, _, term, trunc, _ = e.step(a)
            cpu[id(e)] += time.thread_time() - t0
            if term or trunc:
                e.reset(seed=seed)
    return cpu[id(on)], cpu[id(off)]


def bench_tactile(cfg: BenchConfig) -> dict[str, Any]:
    """Step rate with tactile pads on vs off (scripted actions, step-alternating, CPU time)."""
    registered = _registered_ids()
    ids = list(cfg.env_ids) if cfg.env_ids is not None else registered
    out: dict[str, Any] = {}
    for env_id in ids:
        try:
            switch = _tactile_switch(env_id)
        except Exception as exc:  # noqa: BLE001
            out[env_id] = {"skipped": f"{type(exc).__name__}: {exc}"}
            continue
        if switch is None:
            continue
        _log(f"tactile: {env_id} ({switch}=True/False, scripted actions)")
        try:
            actions = _scripted_actions(env_id, cfg.seed, cfg.steps)
            on, off = gym.make(env_id, **{switch: True}), gym.make(env_id, **{switch: False})
        except Exception as exc:  # noqa: BLE001
            out[env_id] = {"skipped": f"{type(exc).__name__}: {exc}"}
            continue
        try:
            _alternating_cpu(on, off, actions[: min(5, len(actions))], cfg.seed)  # warm-up, JIT
            r_on, r_off, overhead = [], [], []
            for _ in range(cfg.repeats):
                c_on, c_off = _alternating_cpu(on, off, actions, cfg.seed)
                r_on.append(len(actions) / c_on)
                r_off.append(len(actions) / c_off)
                overhead.append(c_on / c_off - 1.0)  # extra step time with pads on
            out[env_id] = {"switch": switch, "actions": "scripted", "steps": int(len(actions)),
                           "on_steps_per_s": summary(r_on), "off_steps_per_s": summary(r_off),
                           "overhead": summary(overhead)}
        finally:
            on.close()
            off.close()
    if not out:
        return {"skipped": "no registered env has a tactile on/off constructor switch "
                           f"(one of {list(TACTILE_SWITCHES)})"}
    return out


# --- camera --------------------------------------------------------------------------------------
def bench_camera(cfg: BenchConfig) -> dict[str, Any]:
    """Low-light radiometric camera frames/s at each size (render + sensor model)."""
    from scenes.build import build_scene
    from scenes.generate import generate
    from sims.camera import RadiometricCamera

    try:
        spec = generate(CAMERA_CONDITION, 0).spec
        model = build_scene(spec).mjspec.compile()
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        cams = {s: RadiometricCamera(model, "rover_cam", s, s) for s in cfg.camera_sizes}
    except Exception as exc:  # noqa: BLE001  (no GL context, missing camera, ...)
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    rng = np.random.default_rng(cfg.seed)
    try:
        for cam in cams.values():
            cam.capture(data, rng)  # warm-up: GL buffers
        rates: dict[int, list[float]] = {s: [] for s in cfg.camera_sizes}
        for r in range(cfg.repeats):
            sizes = list(cfg.camera_sizes) if r % 2 == 0 else list(reversed(cfg.camera_sizes))
            for s in sizes:
                t0 = time.thread_time()  # one core: LP_NUM_THREADS=0 keeps llvmpipe in-thread
                for _ in range(cfg.camera_frames):
                    cams[s].capture(data, rng)
                rates[s].append(cfg.camera_frames / (time.thread_time() - t0))
    finally:
        for cam in cams.values():
            cam.close()
    return {"condition": CAMERA_CONDITION, "gl_backend": os.environ.get("MUJOCO_GL", ""),
            "clock": "thread CPU time (frames per CPU second, one core)",
            **{f"{s}x{s}_fps": summary(v) for s, v in rates.items()}}


# --- scenes --------------------------------------------------------------------------------------
def bench_scenes(cfg: BenchConfig) -> dict[str, Any]:
    """Scenes/s of ``generate`` cycling through the condition catalog (new seeds each run)."""
    from scenes.conditions import CONDITIONS
    from scenes.generate import generate

    conds = list(CONDITIONS)
    rates = []
    k = 0
    for _ in range(cfg.repeats):
        t0 = time.perf_counter()
        for _ in range(cfg.scene_count):
            generate(conds[k % len(conds)], 1000 + k)
            k += 1
        rates.append(cfg.scene_count / (time.perf_counter() - t0))
    return {"scenes_per_s": summary(rates), "conditions": len(conds)}


# --- vector env ----------------------------------------------------------------------------------
def bench_vector(cfg: BenchConfig) -> dict[str, Any]:
    """Env-steps/s of the batch backend (1 and 2 threads) and SyncVectorEnv, interleaved."""
    from tasks.vector import make_vec

    n = cfg.vec_envs
    try:
        envs = {
            "batch_1t": make_vec(VECTOR_TASK, n, "batch", num_threads=1),
            "batch_2t": make_vec(VECTOR_TASK, n, "batch", num_threads=2),
            "sync": make_vec(VECTOR_TASK, n, "sync"),
        }
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"{type(exc).__name__}: {exc}"}
    rng = np.random.default_rng(cfg.seed)
    actions = rng.uniform(-1.0, 1.0, (cfg.vec_steps, n, 2)).astype(np.float32)
    ref = envs["batch_1t"]
    frame_skip = int(ref.frame_skip)
    models = [t.model for t in ref.templates]
    # Raw baseline: the same n models stepped by a Python loop of mj_step from the batch
    # env's reset states, with the wheel controls RoverTraverse derives from the actions
    # (left a0 * vmax on fl/rl, right a1 * vmax on fr/rr); no resets within the run.
    ctrls = np.empty((cfg.vec_steps, n, 4))
    ctrls[:, :, [0, 2]] = (actions[:, :, 0] * ref._vmax)[:, :, None]
    ctrls[:, :, [1, 3]] = (actions[:, :, 1] * ref._vmax)[:, :, None]

    def raw_run(seed: int) -> np.ndarray:
        ref.reset(seed=seed)
        datas = [ref.get_data(i) for i in range(n)]
        t0 = _now()
        for c in ctrls:
            for i, d in enumerate(datas):
                d.ctrl[:] = c[i]
                mujoco.mj_step(models[i], d, frame_skip)
        return _now() - t0

    # (wall, CPU) seconds of each run
    times: dict[str, list[np.ndarray]] = {k: [] for k in [*envs, "raw"]}
    try:
        for v in envs.values():
            v.reset(seed=cfg.seed)
            v.step(actions[0])
        names = list(times)
        for r in range(cfg.repeats):
            order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
            for name in order:
                if name == "raw":
                    times[name].append(raw_run(cfg.seed + r))
                    continue
                v = envs[name]
                v.reset(seed=cfg.seed + r)
                t0 = _now()
                for a in actions:
                    v.step(a)
                times[name].append(_now() - t0)
    finally:
        for v in envs.values():
            v.close()
    steps = n * cfg.vec_steps

    def pair(a: str, b: str, clock: int) -> dict[str, Any]:
        """Rate of ``a`` over rate of ``b`` per repeat (clock 0: wall, 1: CPU)."""
        return summary([y[clock] / x[clock] for x, y in zip(times[a], times[b], strict=True)])

    return {
        "task": VECTOR_TASK,
        "num_envs": n,
        "clocks": "thread scaling and batch_2t ratios: wall time; 1-thread ratios: process CPU time",
        **{f"{k}_env_steps_per_s": summary([steps / t[0] for t in v]) for k, v in times.items()},
        **{f"{k}_env_steps_per_cpu_s": summary([steps / t[1] for t in v]) for k, v in times.items()},
        "batch_2t_vs_1t": pair("batch_2t", "batch_1t", 0),
        "batch_2t_vs_sync": pair("batch_2t", "sync", 0),
        "batch_1t_vs_sync": pair("batch_1t", "sync", 1),
        "batch_1t_vs_raw": pair("batch_1t", "raw", 1),
        "sync_vs_raw": pair("sync", "raw", 1),
    }


# --- targets -------------------------------------------------------------------------------------
def _check(name: str, value: float | None, where: str, note: str = "") -> dict[str, Any]:
    op, threshold, what = TARGETS[name]
    met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
    return {"target": name, "where": where, "what": what, "value": value, "op": op,
            "threshold": threshold, "met": met, "note": note}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured median, met or not, and why it falls short."""
    machine = results["machine"]
    cores = machine.get("cpu_count")
    load = (machine.get("load_average_1_5_15") or [None])[0]
    rows: list[dict[str, Any]] = []
    for env_id, r in results.get("envs", {}).items():
        if env_id == PEER_ENV:
            continue
        if "skipped" in r:
            rows.append(_check("env_vs_raw", None, env_id, f"skipped: {r['skipped']}"))
            continue
        ratio = r["ratio"]["median"]
        note = ""
        if ratio < TARGETS["env_vs_raw"][1]:
            oh = r["overhead_us_per_step"]["median"]
            peer = results["envs"].get(PEER_ENV, {}).get("ratio", {}).get("median")
            peer_txt = f"; peer {PEER_ENV} reaches {peer:.2f} x raw in this run" if peer else ""
            phys = 1e6 / r["raw_steps_per_s"]["median"]
            note = (f"the Python work of env.step besides mj_step (wrappers, action mapping, "
                    f"sensing, observation, reward, checks) costs {oh:.0f} us per step on top of "
                    f"{phys:.0f} us of physics{peer_txt}")
        if not r.get("replay_identical", True):
            note = (note + "; " if note else "") + (
                "the raw replay did not reproduce the env's trajectory, so the two loops "
                "simulated different things and the ratio is not like for like")
        rows.append(_check("env_vs_raw", ratio, env_id, note))
    tac = results.get("tactile", {})
    if "skipped" in tac:
        rows.append(_check("tactile_overhead", None, "-", f"skipped: {tac['skipped']}"))
    else:
        for env_id, r in tac.items():
            if "skipped" in r:
                rows.append(_check("tactile_overhead", None, env_id, f"skipped: {r['skipped']}"))
            else:
                rows.append(_check("tactile_overhead", r["overhead"]["median"], env_id))
    vec = results.get("vector")
    if vec is not None:
        where = f"{VECTOR_TASK} x{vec.get('num_envs', '?')}"
        if "skipped" in vec:
            rows.append(_check("batch_2t_vs_1t", None, where, f"skipped: {vec['skipped']}"))
        else:
            scale = vec["batch_2t_vs_1t"]["median"]
            note = ""
            if scale < TARGETS["batch_2t_vs_1t"][1]:
                note = (f"{cores} CPU core(s), 1-min load average {load:.1f} while measuring: a second "
                        "thread only helps with a free core; the Python part of each step is serial"
                        if load is not None else "needs two free cores")
            rows.append(_check("batch_2t_vs_1t", scale, where, note))
            vs = vec["batch_2t_vs_sync"]["median"]
            note = ""
            if vs < TARGETS["batch_vs_sync"][1]:
                one = vec["batch_1t_vs_sync"]["median"]
                note = (f"on one thread the batch backend already does {one:.2f} x SyncVectorEnv's work "
                        "per CPU-second (no per-env Python loop); the rest of the target needs the second "
                        "thread to run on a free core (see 2t/1t)")
            rows.append(_check("batch_vs_sync", vs, where, note))
            braw = vec["batch_1t_vs_raw"]["median"]
            note = ""
            if braw < TARGETS["env_vs_raw"][1]:
                note = (f"the batch env's array work per vector step is shared by {vec['num_envs']} envs; "
                        "more envs per batch amortize it further")
            rows.append(_check("env_vs_raw", braw, f"{where} via make_vec batch (1 thread)", note))
    cam = results.get("camera")
    if cam is not None:
        if "skipped" in cam:
            rows.append(_check("camera_64_fps", None, "-", f"skipped: {cam['skipped']}"))
        elif "64x64_fps" in cam:
            fps = cam["64x64_fps"]["median"]
            note = ""
            if fps < TARGETS["camera_64_fps"][1]:
                note = (f"software rendering ({cam.get('gl_backend') or 'default GL'}) on the CPU; "
                        "EGL on a GPU machine renders in hardware")
            rows.append(_check("camera_64_fps", fps, f"{cam['condition']} rover_cam", note))
    return rows


# --- run and report ------------------------------------------------------------------------------
def run(cfg: BenchConfig, command: str = "") -> dict[str, Any]:
    """Run the configured sections; return the results dict (JSON-serializable)."""
    results: dict[str, Any] = {"command": command, "config": asdict(cfg), "machine": machine_info()}
    runners = {"envs": bench_envs, "tactile": bench_tactile, "camera": bench_camera,
               "scenes": bench_scenes, "vector": bench_vector}
    for name in SECTIONS:
        if name in cfg.sections:
            _log(f"section {name}")
            results[name] = runners[name](cfg)
    results["machine"]["load_average_after"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else []
    results["targets"] = evaluate_targets(results)
    return results


def _fmt(s: dict[str, Any], unit: str = "", digits: int = 2) -> str:
    return f"{s['median']:.{digits}f}{unit} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


def markdown(results: dict[str, Any]) -> str:
    """A table to paste into the README, with the command and machine it came from."""
    m = results["machine"]
    cfg = results["config"]
    lines = [
        f"Measured with `{results.get('command') or 'embodisim bench'}` on {m['utc']}: {m['cpu']} "
        f"({m['cpu_count']} cores, load average {', '.join(f'{x:.1f}' for x in m['load_average_1_5_15'])}), "
        f"MuJoCo {m['mujoco']}, Gymnasium {m['gymnasium']}, MUJOCO_GL={m['mujoco_gl'] or 'default'}. "
        f"Median [min-max] of {cfg['repeats']} interleaved runs.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
    ]
    for env_id, r in results.get("envs", {}).items():
        if "skipped" in r:
            lines.append(f"| `{env_id}` env.step / raw mj_step | skipped: {r['skipped'][:80]} | >= 0.9 | - |")
            continue
        lines.append(
            f"| `{env_id}` env.step / raw mj_step, CPU time (frame_skip {r['frame_skip']}) | "
            f"{_fmt(r['ratio'])} ({r['env_steps_per_s']['median']:.0f} vs "
            f"{r['raw_steps_per_s']['median']:.0f} steps/CPU-s; wall {r['ratio_wall']['median']:.2f}"
            f"{'' if r.get('replay_identical', True) else '; replay differs'}) | "
            f"{'>= 0.9' if env_id != PEER_ENV else 'peer'} | "
            f"{'-' if env_id == PEER_ENV else ('yes' if r['ratio']['median'] >= 0.9 else 'no')} |")
    tac = results.get("tactile")
    if tac is not None:
        if "skipped" in tac:
            lines.append(f"| tactile pads on vs off | skipped: {tac['skipped']} | <= 5 % | - |")
        else:
            for env_id, r in tac.items():
                if "skipped" in r:
                    why = r["skipped"][:80]
                    lines.append(f"| `{env_id}` tactile on vs off | skipped: {why} | <= 5 % | - |")
                else:
                    o = r["overhead"]
                    lines.append(f"| `{env_id}` tactile step-time overhead | {100 * o['median']:.1f} % "
                                 f"[{100 * o['min']:.1f}-{100 * o['max']:.1f}] | <= 5 % | "
                                 f"{'yes' if o['median'] <= 0.05 else 'no'} |")
    cam = results.get("camera")
    if cam is not None:
        if "skipped" in cam:
            lines.append(f"| low-light camera | skipped: {cam['skipped'][:80]} | >= 150 fps @64 | - |")
        else:
            for s in cfg["camera_sizes"]:
                key = f"{s}x{s}_fps"
                tgt = ">= 150" if s == 64 else "-"
                met = ("yes" if cam[key]["median"] >= 150 else "no") if s == 64 else "-"
                lines.append(f"| low-light camera {s}x{s} frames/s ({cam['gl_backend'] or 'GL'}) | "
                             f"{_fmt(cam[key], digits=0)} | {tgt} | {met} |")
    sc = results.get("scenes")
    if sc is not None:
        lines.append(f"| scene generation (sample + settle) scenes/s | {_fmt(sc['scenes_per_s'])} | - | - |")
    vec = results.get("vector")
    if vec is not None:
        if "skipped" in vec:
            lines.append(f"| vector env | skipped: {vec['skipped'][:80]} | - | - |")
        else:
            n = vec["num_envs"]
            for k in ("batch_1t", "batch_2t", "sync", "raw"):
                rate = _fmt(vec[f"{k}_env_steps_per_s"], digits=0)
                cpu = vec[f"{k}_env_steps_per_cpu_s"]["median"]
                what = "raw mj_step loop" if k == "raw" else f"make_vec `{k}`"
                lines.append(f"| {what} x{n}, env-steps/s wall (per CPU-s) | {rate} ({cpu:.0f}) | - | - |")
            for k, tgt, thr in (("batch_2t_vs_1t", ">= 1.8", 1.8), ("batch_2t_vs_sync", ">= 1.5", 1.5),
                                ("batch_1t_vs_sync", "-", None), ("batch_1t_vs_raw", ">= 0.9", 0.9),
                                ("sync_vs_raw", "-", None)):
                met = "-" if thr is None else ("yes" if vec[k]["median"] >= thr else "no")
                clock = "wall" if k.startswith("batch_2t") else "CPU time"
                label = k.removeprefix("batch_").replace("_vs_", " / ")
                lines.append(f"| vector {label} ({clock}) | {_fmt(vec[k])} | {tgt} | {met} |")
    notes = [t for t in results.get("targets", []) if t["met"] is False and t["note"]]
    if notes:
        lines += ["", "Why targets fall short:", ""]
        lines += [f"- {t['where']} ({t['target']}): {t['note']}." for t in notes]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    """Ratios (with min-max bars and targets) and absolute rates, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratio_rows: list[tuple[str, dict[str, Any], float | None]] = []
    for env_id, r in results.get("envs", {}).items():
        if "ratio" in r:
            ratio_rows.append((f"{env_id.removeprefix('embodisim/')} / raw", r["ratio"],
                               None if env_id == PEER_ENV else 0.9))
    vec = results.get("vector", {})
    if "batch_2t_vs_1t" in vec:
        ratio_rows.append(("batch 2t / 1t", vec["batch_2t_vs_1t"], 1.8))
        ratio_rows.append(("batch 2t / sync", vec["batch_2t_vs_sync"], 1.5))
        ratio_rows.append(("batch 1t / sync", vec["batch_1t_vs_sync"], None))
        ratio_rows.append(("batch 1t / raw loop", vec["batch_1t_vs_raw"], 0.9))
    for env_id, r in results.get("tactile", {}).items():
        if isinstance(r, dict) and "on_steps_per_s" in r:
            s = {k: r["overhead"][k] + 1.0 for k in ("median", "min", "max")}
            ratio_rows.append((f"{env_id.removeprefix('embodisim/')} tactile on/off time", s, 1.05))
    rate_rows: list[tuple[str, dict[str, Any], float | None]] = []
    cam = results.get("camera", {})
    for s in results["config"]["camera_sizes"]:
        if f"{s}x{s}_fps" in cam:
            rate_rows.append((f"camera {s}x{s} fps", cam[f"{s}x{s}_fps"], 150.0 if s == 64 else None))
    if "scenes_per_s" in results.get("scenes", {}):
        rate_rows.append(("scenes/s", results["scenes"]["scenes_per_s"], None))

    height = max(3.0, 0.45 * max(len(ratio_rows), len(rate_rows), 1) + 1.5)
    fig, axes = plt.subplots(1, 2, figsize=(12, height))
    for ax, rows, title in ((axes[0], ratio_rows, "ratios (median, min-max)"),
                            (axes[1], rate_rows, "rates (median, min-max)")):
        if not rows:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        y = np.arange(len(rows))
        med = np.array([r[1]["median"] for r in rows])
        err = np.array([[r[1]["median"] - r[1]["min"] for r in rows],
                        [r[1]["max"] - r[1]["median"] for r in rows]])
        ax.barh(y, med, xerr=err, color="#4c72b0", capsize=3)
        for yi, (_, _, tgt) in zip(y, rows, strict=True):
            if tgt is not None:
                ax.plot([tgt, tgt], [yi - 0.4, yi + 0.4], color="#c44e52", lw=2)
        ax.set_yticks(y, [r[0] for r in rows])
        ax.invert_yaxis()
        ax.set_title(title + "; red: target")
        ax.grid(axis="x", alpha=0.3)
    m = results["machine"]
    fig.suptitle(f"embodisim bench - {m['cpu']} x{m['cpu_count']}, MuJoCo {m['mujoco']}, {m['utc']}",
                 fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def write_outputs(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write bench.json, bench.md and bench.png into ``out_dir`` (atomically)."""
    from scenes._io import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "md": out_dir / "bench.md", "png": out_dir / "bench.png"}
    atomic_write_text(paths["json"], json.dumps(results, indent=2, default=str) + "\n")
    atomic_write_text(paths["md"], markdown(results))
    plot(results, paths["png"])
    return paths


def build_config(quick: bool, repeats: int | None = None, sections: Sequence[str] | None = None,
                 env_ids: Sequence[str] | None = None) -> BenchConfig:
    """The full or ``--quick`` configuration with command-line overrides."""
    cfg = QUICK if quick else BenchConfig()
    over: dict[str, Any] = {}
    if repeats is not None:
        over["repeats"] = repeats
    if sections:
        over["sections"] = tuple(sections)
    if env_ids:
        over["env_ids"] = tuple(env_ids)
    return replace(cfg, **over) if over else cfg


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by the script and ``embodisim bench``."""
    p.add_argument("--json", action="store_true", help="print the results as JSON (else the Markdown table)")
    p.add_argument("--out", type=Path, default=None, help="write bench.json, bench.md and bench.png here")
    p.add_argument("--quick", action="store_true", help="CI-size counts (seconds, noisy)")
    p.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 5, quick 3)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections")
    p.add_argument("--env", nargs="+", default=None, dest="env_ids", help="only these registered env ids")


def main_args(args: argparse.Namespace, command: str) -> int:
    """Run from parsed arguments; print JSON or Markdown; return the exit code."""
    cfg = build_config(args.quick, args.repeats, args.only, args.env_ids)
    results = run(cfg, command=command)
    if args.out is not None:
        paths = write_outputs(results, args.out)
        _log("wrote " + ", ".join(str(p) for p in paths.values()))
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        print(markdown(results), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of the script."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    argv = list(sys.argv[1:] if argv is None else argv)
    return main_args(p.parse_args(argv), "python benchmarks/bench_throughput.py " + " ".join(argv))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["BenchConfig", "QUICK", "SECTIONS", "TARGETS", "run", "markdown", "plot", "write_outputs",
           "evaluate_targets", "env_vs_raw", "machine_info"]
