"""Gymnasium wrappers: domain randomization per episode, reality proxies, calibrated models.

* :class:`DomainRandomization` draws a :class:`~sim2real.randomization.Randomization`
  at every ``reset`` from its own generator, writes it into the live model and
  puts the drawn values in ``info["randomization"]``.
* :class:`RealityProxy` applies a fixed :class:`~sim2real.reality.RealityProfile`
  (model values, action latency and backlash, observation bias/noise/dropouts).
* :class:`Calibrated` applies identified values (from :mod:`sim2real.sysid`).

:func:`make_env` builds any of them from picklable names, so suites can pass
``reality="rover-composite"`` through ``env_kwargs`` to spawned workers.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from sim2real.randomization import Randomization, apply_to, apply_values, get_randomization
from sim2real.reality import OBS_CHANNELS, RealityProfile, get_profile

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
        obs, info = self.env.reset(seed=seed, options=options)
        info["randomization"] = dict(self.values)
        return self._corrupt(obs), info

    def _corrupt(self, obs: Any) -> Any:
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
        obs, info = self.env.reset(seed=seed, options=options)
        self._last_obs = None
        info["reality"] = self.profile.name
        return self._corrupt(obs), info

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
        self._zero = _zero_action(env)
        self._steps = int(round(float(self.values.get("action_delay_steps", 0.0))))
        self._delay = _ActionDelay(self._steps, self._zero)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the task and the delay line."""
        self._delay = _ActionDelay(self._steps, self._zero)
        obs, info = self.env.reset(seed=seed, options=options)
        info["calibration"] = dict(self.values)
        return obs, info

    def step(self, action: np.ndarray):
        """Step with the identified delay."""
        return self.env.step(self._delay.push(action))


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
