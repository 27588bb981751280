"""Gymnasium wrappers: domain randomization per episode, reality proxies, calibrated models.

* :class:`DomainRandomization` draws a :class:`~sim2real.randomization.Randomization`
  at every ``reset`` from its own generator, writes it into the live model and
  puts the drawn values in ``info["randomization"]``.
* :class:`RealityProxy` applies a fixed :class:`~sim2real.reality.RealityProfile`
  (model values, action latency and backlash, observation bias/noise/dropouts).
* :class:`Calibrated` applies identified values (from :mod:`sim2real.sysid`).

All three write their model values into the live model before the task's
``reset`` and, for the entries the task's own per-episode draw rewrites during
``reset`` (e.g. FragileGrasp's object mass and friction), once more after it,
relative to that draw (:func:`reset_with_values`). Touch tasks also take
``gel_young_scale`` (the pads are rebuilt with that gel modulus, while the
controller keeps the fresh gel's calibration: :func:`set_gel_modulus`) and
marker-field errors (:class:`~sim2real.reality.TouchSensorGap`, or a randomized
``marker_noise_mm``), applied to the marker field before the touch features
are formed.

:func:`make_env` builds any of them from picklable names, so suites can pass
``reality="rover-composite"`` through ``env_kwargs`` to spawned workers.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from sim2real.randomization import (
    MODEL_FIELDS,
    Randomization,
    apply_to,
    apply_values,
    get_randomization,
)
from sim2real.reality import OBS_CHANNELS, RealityProfile, TouchSensorGap, get_profile

# Salt mixed with the reset seed for the reality proxy's observation corruption, so its
# noise stream is reproducible per episode and independent of the task's own generator.
_REALITY_SALT = 0x5EA1
_MAX_DELAY = 50  # [control steps]; a larger latency is almost surely a unit error


def _base_name(env: gym.Env) -> str:
    spec = getattr(env, "spec", None)
    name = spec.name if spec is not None else type(env.unwrapped).__name__.removesuffix("Env")
    return str(name)


class _ActionDelay:
    """FIFO of actions: ``push`` returns the action requested ``steps`` calls ago."""

    def __init__(self, steps: int, zero: np.ndarray):
        if not 0 <= steps <= _MAX_DELAY:
            raise ValueError(
                f"action_delay_steps={steps!r}; expected 0..{_MAX_DELAY} control steps"
            )
        self.steps = int(steps)
        self._zero = np.asarray(zero, dtype=np.float64)
        self._q: deque[np.ndarray] = deque(self._zero.copy() for _ in range(self.steps))

    def push(self, action: np.ndarray) -> np.ndarray:
        if self.steps == 0:
            return action
        self._q.append(np.array(action, dtype=np.float64, copy=True))
        return self._q.popleft()


def _zero_action(env: gym.Env) -> np.ndarray:
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"action_space: got {type(space).__name__}; delays need a Box action space")
    return np.clip(np.zeros(space.shape), space.low, space.high)


def reset_with_values(env: gym.Env, values: Mapping[str, float],
                      reset: Callable[[], Any]) -> Any:
    """Call ``reset`` and re-apply ``values`` to the model entries the task's reset rewrote.

    A task that draws per-episode physics in ``reset`` (FragileGrasp writes the
    object's mass, inertia and friction) overwrites what a wrapper wrote before it.
    Those entries (and only those) get the values again, relative to the task's
    draw, so e.g. ``mass_scale:object`` scales every episode's drawn mass.

    Args:
        env: The wrapped environment (its ``unwrapped.model`` is the live model).
        values: ``apply_values`` vocabulary.
        reset: Calls the inner ``reset``.

    Returns:
        Whatever ``reset`` returned.
    """
    live = env.unwrapped.model
    before = {f: getattr(live, f).copy() for f in MODEL_FIELDS}
    out = reset()
    changed = None
    for f in MODEL_FIELDS:
        cur = getattr(live, f)
        mask = cur != before[f]
        if mask.any():
            changed = apply_values(live, values) if changed is None else changed
            cur[mask] = getattr(changed, f)[mask]
    return out


def set_gel_modulus(env: gym.Env, scale: float) -> None:
    """Give a touch task's pads a gel Young's modulus of ``scale`` x the nominal one.

    The pads' marker fields are computed outside MuJoCo (:class:`sims.tactile.TactilePad`),
    so this rebuilds both pads with ``young = scale * pad_config.young``. The task's
    ``pad_config`` and ``tactile_calibration`` stay those of the nominal (fresh) gel: a
    robot's controller keeps its bench calibration while its gel ages.

    Args:
        env: A (wrapped) touch task.
        scale: Modulus multiplier (> 0; 1 restores the nominal gel).

    Raises:
        ValueError: For a task without tactile pads or a non-positive scale.
    """
    from sims.tactile import TactilePad

    u = env.unwrapped
    if not (hasattr(u, "pads") and hasattr(u, "pad_config") and hasattr(u, "arm")):
        raise ValueError(f"gel_young_scale: task {type(u).__name__} has no tactile pads; use it "
                         "with a touch task (tasks.touch)")
    if not (np.isfinite(scale) and scale > 0.0):
        raise ValueError(f"gel_young_scale={scale!r}: expected a finite multiplier > 0")
    cfg = dataclasses.replace(u.pad_config, young=float(u.pad_config.young) * float(scale))
    u.pads = tuple(TactilePad(u.model, geom, cfg, u.arm.pad_face)
                   for geom in (u.arm.left_pad, u.arm.right_pad))


def _gel_scale(env: gym.Env) -> float:
    """Current gel modulus of a touch task's pads relative to the nominal gel (1 without pads)."""
    u = env.unwrapped
    pads, cfg = getattr(u, "pads", None), getattr(u, "pad_config", None)
    if not pads or cfg is None:
        return 1.0
    return float(pads[0].config.young) / float(cfg.young)


class _TouchSensor:
    """Marker-field errors of a real tactile sensor, applied to a touch task's observation.

    The corrupted field replaces the task's field only while its touch features are
    formed (``touch_features``), so the simulator's own field (and the task's
    marker-fidelity metrics) stay exact.
    """

    def __init__(self, env: gym.Env, gap: TouchSensorGap):
        from tasks.touch.base import N_PROPRIO, N_TOUCH, N_VISION

        u = env.unwrapped
        if not (hasattr(u, "touch_features") and hasattr(u, "_markers")):
            raise ValueError(f"touch sensor errors: task {type(u).__name__} has no tactile pads; "
                             "use them with a touch task (tasks.touch)")
        self.env = u
        self.gap = gap
        start = N_PROPRIO + N_VISION
        self._touch = slice(start, start + N_TOUCH)
        self._field: np.ndarray | None = None
        self._features = np.zeros(N_TOUCH)
        self._k = 0

    @property
    def field(self) -> np.ndarray | None:
        """The last tracked marker fields ``(2, N, 3)`` [m] (None before the first frame)."""
        return None if self._field is None else self._field.copy()

    def reset(self) -> None:
        self._field = None
        self._k = 0

    def apply(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        u = self.env
        if not (u.use_touch and self.gap.active):
            return obs
        if self._k % self.gap.frame_steps == 0:  # a new tactile frame
            clean = np.array(u._markers, copy=True)  # (2, N, 3) [m]
            field = clean.copy()
            if self.gap.marker_noise_mm > 0.0:
                field += rng.normal(0.0, self.gap.marker_noise_mm * 1e-3, field.shape)
            if self.gap.lost_markers > 0.0 and self._field is not None:
                lost = rng.random(field.shape[:2]) < self.gap.lost_markers
                field[lost] = self._field[lost]
            self._field = field
            u._markers[...] = field
            try:
                self._features = u.touch_features()
            finally:
                u._markers[...] = clean
        self._k += 1
        out = np.array(obs, copy=True)
        out[self._touch] = self._features
        if getattr(u, "marker_obs", False):
            out[self._touch.stop:] = (self._field * 1e3).ravel()
        return out


class DomainRandomization(gym.Wrapper):
    """Draw a randomization per episode; sampled values in ``info["randomization"]``.

    The wrapper owns one generator (seeded by ``randomization_seed``, or by the
    first seeded ``reset``), which advances once per episode; the task's own
    generator is still reset by ``reset(seed=...)``. So two episodes reset with the
    same seed differ only by the randomization.
    """

    def __init__(self, env: gym.Env, randomization: str | Randomization,
                 randomization_seed: int | None = None):
        super().__init__(env)
        self.randomization = (get_randomization(randomization) if isinstance(randomization, str)
                              else randomization)
        self._nominal = copy.deepcopy(env.unwrapped.model)
        self._rng: np.random.Generator | None = (
            None if randomization_seed is None else np.random.default_rng(randomization_seed))
        self._delay = _ActionDelay(0, _zero_action(env))
        self._noise = 0.0
        self._noise_rng = np.random.default_rng(0)
        self._touch: _TouchSensor | None = None
        self._gel_base = _gel_scale(env)
        self.values: Mapping[str, float] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw and apply the randomization, then reset the task."""
        if self._rng is None:
            self._rng = np.random.default_rng(seed)
        sample = self.randomization.sample(self._nominal, self._rng)
        apply_to(self.env.unwrapped.model, sample.model)
        self.values = dict(sample.values)
        self._delay = _ActionDelay(int(self.values.get("action_delay_steps", 0)),
                                   _zero_action(self.env))
        self._noise = float(self.values.get("obs_noise_scale", 0.0))
        self._noise_rng = np.random.default_rng(int(self._rng.integers(2**63)))
        if "gel_young_scale" in self.values:  # relative to the gel below (e.g. a calibrated one)
            set_gel_modulus(self.env, self._gel_base * self.values["gel_young_scale"])
        self._touch = (_TouchSensor(self.env, TouchSensorGap(self.values["marker_noise_mm"]))
                       if "marker_noise_mm" in self.values else None)
        obs, info = reset_with_values(self.env, self.values,
                                      lambda: self.env.reset(seed=seed, options=options))
        info["randomization"] = dict(self.values)
        return self._corrupt(obs), info

    def _corrupt(self, obs: Any) -> Any:
        if self._touch is not None:
            obs = self._touch.apply(obs, self._noise_rng)
        if self._noise <= 0.0:
            return obs
        return (obs + self._noise_rng.normal(0.0, self._noise, np.shape(obs))).astype(obs.dtype)

    def step(self, action: np.ndarray):
        """Step with the delayed action; observation noise if drawn."""
        obs, reward, terminated, truncated, info = self.env.step(self._delay.push(action))
        info["randomization"] = dict(self.values)
        return self._corrupt(obs), reward, terminated, truncated, info


class RealityProxy(gym.Wrapper):
    """Apply a reality-proxy profile: model values, latency, backlash, sensor errors."""

    def __init__(self, env: gym.Env, profile: str | RealityProfile):
        super().__init__(env)
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        task = _base_name(env)
        if self.profile.task not in ("*", task):
            raise ValueError(
                f"--reality {self.profile.name!r} is a {self.profile.task} profile; task "
                f"{task!r} needs one whose task is {task!r} or '*'"
            )
        live = env.unwrapped.model
        apply_to(live, apply_values(live, self.profile.values))
        if "gel_young_scale" in self.profile.values:
            set_gel_modulus(env, self.profile.values["gel_young_scale"])
        self._touch = (_TouchSensor(env, self.profile.touch) if self.profile.touch.active
                       else None)
        self._slices = {
            name: slice(*OBS_CHANNELS[task][name])
            for name in (*self.profile.obs_bias, *self.profile.obs_noise)
        }
        self._zero = _zero_action(env)
        self._delay = _ActionDelay(self.profile.delay_steps, self._zero)
        self._held = self._zero.copy()
        self._rng = np.random.default_rng(_REALITY_SALT)
        self._last_obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the task and the proxy's latency, backlash and sensor state."""
        if seed is not None:
            self._rng = np.random.default_rng([int(seed), _REALITY_SALT])
        self._delay = _ActionDelay(self.profile.delay_steps, self._zero)
        self._held = self._zero.copy()
        if self._touch is not None:
            self._touch.reset()
        obs, info = reset_with_values(self.env, self.profile.values,
                                      lambda: self.env.reset(seed=seed, options=options))
        self._last_obs = None
        info["reality"] = self.profile.name
        return self._corrupt(obs), info

    def tracked_markers(self) -> np.ndarray | None:
        """Marker fields ``(2, N, 3)`` [m] as the proxy's tactile tracker last reported them."""
        return None if self._touch is None else self._touch.field

    def _backlash(self, action: np.ndarray) -> np.ndarray:
        b = self.profile.backlash
        if b <= 0.0:
            return action
        a = np.asarray(action, dtype=np.float64)
        # play operator: the output moves only when the input leaves the dead band around it
        self._held = np.where(a - self._held > b, a - b, np.where(self._held - a > b, a + b,
                                                                   self._held))
        return self._held.copy()

    def _corrupt(self, obs: Any) -> Any:
        p = self.profile
        if self._touch is not None:
            obs = self._touch.apply(obs, self._rng)
        if not self._slices and p.dropout == 0.0:
            return obs
        out = np.array(obs, dtype=np.float64, copy=True)
        for name, v in p.obs_bias.items():
            out[self._slices[name]] += v
        for name, s in p.obs_noise.items():
            sl = self._slices[name]
            out[sl] += self._rng.normal(0.0, s, out[sl].shape)
        if p.dropout > 0.0:
            stale = self._last_obs is not None and self._rng.random() < p.dropout
            if stale:
                out = self._last_obs.copy()
            self._last_obs = out.copy()
        return out.astype(np.asarray(obs).dtype)

    def step(self, action: np.ndarray):
        """Step with the delayed, backlashed action; corrupt the observation."""
        applied = self._delay.push(self._backlash(np.asarray(action, dtype=np.float64)))
        obs, reward, terminated, truncated, info = self.env.step(applied)
        info["reality"] = self.profile.name
        return self._corrupt(obs), reward, terminated, truncated, info


class Calibrated(gym.Wrapper):
    """Apply identified values (``apply_values`` vocabulary, incl. the action delay)."""

    def __init__(self, env: gym.Env, values: Mapping[str, float]):
        super().__init__(env)
        self.values = dict(values)
        live = env.unwrapped.model
        apply_to(live, apply_values(live, self.values))
        if "gel_young_scale" in self.values:
            set_gel_modulus(env, self.values["gel_young_scale"])
        noise = float(self.values.get("marker_noise_mm", 0.0))
        self._touch = _TouchSensor(env, TouchSensorGap(noise)) if noise > 0.0 else None
        self._rng = np.random.default_rng(_REALITY_SALT)
        self._zero = _zero_action(env)
        self._steps = int(round(float(self.values.get("action_delay_steps", 0.0))))
        self._delay = _ActionDelay(self._steps, self._zero)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the task and the delay line."""
        self._delay = _ActionDelay(self._steps, self._zero)
        if seed is not None:
            self._rng = np.random.default_rng([int(seed), _REALITY_SALT + 1])
        if self._touch is not None:
            self._touch.reset()
        obs, info = reset_with_values(self.env, self.values,
                                      lambda: self.env.reset(seed=seed, options=options))
        info["calibration"] = dict(self.values)
        return self._sense(obs), info

    def _sense(self, obs: Any) -> Any:
        return obs if self._touch is None else self._touch.apply(obs, self._rng)

    def step(self, action: np.ndarray):
        """Step with the identified delay (and the identified marker noise)."""
        obs, reward, terminated, truncated, info = self.env.step(self._delay.push(action))
        return self._sense(obs), reward, terminated, truncated, info


def make_env(
    task_id: str,
    *,
    reality: str | None = None,
    randomization: str | None = None,
    calibration: Mapping[str, float] | None = None,
    randomization_seed: int | None = None,
    **kwargs: Any,
) -> gym.Env:
    """``gymnasium.make(task_id, **kwargs)`` wrapped for sim2real, from picklable arguments.

    Args:
        task_id: A registered task id, e.g. ``"embodisim/RoverTraverse-v0"``.
        reality: Reality-proxy profile name (the "reality" side; exclusive with
            ``randomization`` and ``calibration``).
        randomization: Randomization name (training/sim side).
        calibration: Identified values (sim side), applied below the randomization.
        randomization_seed: Seed of the randomization generator.
        **kwargs: Task keywords (``condition``, ``scenario_seed``, ...).

    Returns:
        The wrapped environment.

    Raises:
        ValueError: If a reality proxy is combined with sim-side tools, or on unknown names.
    """
    import tasks  # noqa: F401  (registers the embodisim ids)

    if reality is not None and (randomization is not None or calibration is not None):
        raise ValueError(
            f"reality={reality!r} with randomization={randomization!r} / calibration: a "
            "reality proxy stands for the real robot; randomize or calibrate the sim side only"
        )
    env = gym.make(task_id, **kwargs)
    if reality is not None:
        return RealityProxy(env, reality)
    if calibration is not None:
        env = Calibrated(env, calibration)
    if randomization is not None:
        env = DomainRandomization(env, randomization, randomization_seed)
    return env
