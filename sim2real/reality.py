"""Reality proxies: named, held-out profiles of what simulation usually gets wrong.

No real robot is attached to embodisim, so the "reality" side of a transfer is
a **reality proxy**: the same simulator with a fixed, held-out perturbation
profile that is never used for training or tuning. A profile changes the model
(through the value vocabulary of :func:`sim2real.randomization.apply_values`),
delays and backlashes the actions, and corrupts observation channels with bias,
noise and dropouts. Each profile lists, in words, what it changes;
``embodisim reality list`` prints them.

:class:`sim2real.wrappers.RealityProxy` applies a profile to an environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Observation channels of each task's state vector (slices into the float vector).
# RoverTraverse layout: see tasks.rover_traverse.RoverTraverseEnv's docstring.
OBS_CHANNELS: Mapping[str, Mapping[str, tuple[int, int]]] = MappingProxyType({
    "RoverTraverse": MappingProxyType({
        "goal": (0, 3),  # navigation fix of the goal, rover frame [m]
        "gyro": (3, 6),  # rate gyro [rad/s]
        "accel": (6, 9),  # accelerometer [m/s^2]
        "quat": (9, 13),  # IMU attitude quaternion [-]
        "wheels": (13, 17),  # wheel encoder speeds [rad/s]
        "ranges": (17, 22),  # forward rangefinders [m]
    }),
})


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class RealityProfile:
    """One reality proxy.

    Attributes:
        name: Registry name.
        task: Base task name it applies to (``"RoverTraverse"``, ``"*"`` for any).
        description: One line.
        changes: What it changes, one phrase per item (printed by ``reality list``).
        values: Model values (``apply_values`` vocabulary), incl. ``action_delay_steps``.
        backlash: Dead band of the action (action units): the applied command
            follows the requested one only once it moves more than this.
        obs_bias: Constant bias added to an observation channel (channel units).
        obs_noise: Std of zero-mean Gaussian noise added to a channel (channel units).
        dropout: Probability per step that the whole observation is stale (the
            previous one is repeated), e.g. a lost sensor packet.
    """

    name: str
    task: str
    description: str
    changes: tuple[str, ...]
    values: Mapping[str, float] = field(default_factory=dict)
    backlash: float = 0.0
    obs_bias: Mapping[str, float] = field(default_factory=dict)
    obs_noise: Mapping[str, float] = field(default_factory=dict)
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("values", "obs_bias", "obs_noise"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"RealityProfile({self.name!r}).dropout={self.dropout!r}; expected [0, 1)")
        if self.backlash < 0.0:
            raise ValueError(f"RealityProfile({self.name!r}).backlash={self.backlash!r}; expected >= 0")
        delay = self.values.get("action_delay_steps", 0.0)
        if delay < 0 or float(delay) != int(delay):
            raise ValueError(
                f"RealityProfile({self.name!r}).values['action_delay_steps']={delay!r}; "
                "expected a whole number of control steps >= 0"
            )
        channels = OBS_CHANNELS.get(self.task, {})
        for name in (*self.obs_bias, *self.obs_noise):
            if name not in channels:
                raise ValueError(
                    f"RealityProfile({self.name!r}): observation channel {name!r} is not "
                    f"defined for task {self.task!r}; channels: {sorted(channels)}"
                )

    @property
    def delay_steps(self) -> int:
        """Action latency [control steps]."""
        return int(self.values.get("action_delay_steps", 0))


_ROVER_SOIL = {
    "friction_scale": 0.7,  # loose regolith: lower traction than the nominal friction
    "contact_timeconst_scale": 3.0,  # softer ground: wheels sink in (sinkage)
}
_ROVER_PAYLOAD = {
    "mass_scale:rover": 1.3,  # +30 % chassis mass: instruments and sample payload
    "actuator_gain_scale": 0.7,  # worn / cold drive motors: 30 % less servo gain
}

PROFILES: Mapping[str, RealityProfile] = MappingProxyType({
    p.name: p
    for p in (
        RealityProfile(
            "rover-latency",
            "RoverTraverse",
            "actuator latency: wheel commands arrive 3 control steps (150 ms) late",
            ("actions delayed by 3 control steps",),
            values={"action_delay_steps": 3},
        ),
        RealityProfile(
            "rover-backlash",
            "RoverTraverse",
            "drive-train backlash: command changes below 0.15 are absorbed",
            ("action dead band (backlash) 0.15 of full scale",),
            backlash=0.15,
        ),
        RealityProfile(
            "rover-soft-soil",
            "RoverTraverse",
            "loose, soft regolith: 30 % less traction, 3x softer contact (sinkage)",
            ("ground friction x0.7", "contact time constant x3 (sinkage)"),
            values=_ROVER_SOIL,
        ),
        RealityProfile(
            "rover-payload",
            "RoverTraverse",
            "unmodelled payload and worn motors: +30 % chassis mass, -30 % servo gain",
            ("chassis mass and inertia x1.3", "drive servo gain x0.7"),
            values=_ROVER_PAYLOAD,
        ),
        RealityProfile(
            "rover-sensors",
            "RoverTraverse",
            "sensor errors: IMU biases, 3x noisier navigation fix, 5 % dropped packets",
            ("gyro bias +0.02 rad/s", "accelerometer bias +0.05 m/s^2",
             "navigation noise +0.06 m", "wheel encoder noise 0.05 rad/s",
             "5 % of observations stale"),
            obs_bias={"gyro": 0.02, "accel": 0.05},
            obs_noise={"goal": 0.06, "wheels": 0.05},
            dropout=0.05,
        ),
        RealityProfile(
            "rover-composite",
            "RoverTraverse",
            "everything at once (the held-out rover reality proxy of the sim2real suite)",
            ("actions delayed by 2 control steps", "ground friction x0.7",
             "contact time constant x3 (sinkage)", "chassis mass and inertia x1.3",
             "drive servo gain x0.7", "wheel-bearing dry friction 0.4 N m",
             "gyro bias +0.02 rad/s", "navigation noise +0.06 m", "3 % of observations stale"),
            values={**_ROVER_SOIL, **_ROVER_PAYLOAD, "frictionloss_add": 0.4,
                    "action_delay_steps": 2},
            obs_bias={"gyro": 0.02},
            obs_noise={"goal": 0.06},
            dropout=0.03,
        ),
        RealityProfile(
            "touch-composite",
            "*",
            "manipulation reality proxy: stiffer joints, lower friction, softer contact, latency",
            ("contact friction x0.8", "joint damping x1.5", "joint dry friction 0.02 N m",
             "actuator gain x0.9", "contact time constant x1.3", "actions delayed by 1 step"),
            values={"friction_scale": 0.8, "damping_scale": 1.5, "frictionloss_add": 0.02,
                    "actuator_gain_scale": 0.9, "contact_timeconst_scale": 1.3,
                    "action_delay_steps": 1},
        ),
    )
})


def get_profile(name: str) -> RealityProfile:
    """Look a reality proxy up by name.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"--reality {name!r} is unknown; known: {sorted(PROFILES)}") from None
