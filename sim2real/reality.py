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


# GelSight Mini image scale: 320 px across the 18.6 mm sensing width (gsrobotics streams
# resized to 320 x 240 px; GelSight Inc. datasheet), as sims.tactile.TactilePad.observe_markers.
MARKER_PX_PER_MM = 320.0 / 18.6
# Control period of the touch tasks: frame_skip 10 x 2 ms (tasks.touch.base.TIMESTEP) [s].
TOUCH_CONTROL_PERIOD_S = 0.02


@dataclass(frozen=True)
class TouchSensorGap:
    """What a real vision-based tactile sensor adds to the simulated marker field.

    Applied by :class:`sim2real.wrappers.RealityProxy` to the touch tasks' marker
    fields before their touch features are formed (the simulator's own field is
    left intact). Displacements are in mm, as in the observation.

    Attributes:
        marker_noise_mm: Std of the tracker's noise on every marker displacement
            component (in-plane from the centroid, normal from the depth estimate) [mm].
        lost_markers: Probability per marker and frame that the tracker loses it; a
            lost marker keeps its last tracked displacement (nearest-neighbour trackers).
        frame_steps: Control steps per tactile camera frame; features are sampled and
            held in between (a camera slower than the control loop).
    """

    marker_noise_mm: float = 0.0  # [mm] std per marker and axis
    lost_markers: float = 0.0  # [1] per marker and frame
    frame_steps: int = 1  # [control steps] per tactile frame

    def __post_init__(self) -> None:
        if not (0.0 <= self.marker_noise_mm < 1.0):
            raise ValueError(f"TouchSensorGap.marker_noise_mm={self.marker_noise_mm!r}; expected "
                             "[0, 1) mm (markers move a few tenths of a mm under load)")
        if not (0.0 <= self.lost_markers < 1.0):
            raise ValueError(f"TouchSensorGap.lost_markers={self.lost_markers!r}; expected [0, 1)")
        if not (isinstance(self.frame_steps, int) and 1 <= self.frame_steps <= 10):
            raise ValueError(f"TouchSensorGap.frame_steps={self.frame_steps!r}; expected an "
                             "integer 1..10 control steps per tactile frame")

    @property
    def active(self) -> bool:
        """Whether it changes anything."""
        return self.marker_noise_mm > 0.0 or self.lost_markers > 0.0 or self.frame_steps > 1


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
        touch: Tactile-sensor errors (touch tasks only), see :class:`TouchSensorGap`.
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
    touch: TouchSensorGap = field(default_factory=TouchSensorGap)

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

_TOUCH_VALUES = {
    # Aged gel: silicone elastomers stiffen with post-cure and oxidative ageing; the modulus of
    # Sylgard 184 spans x2.2 with cure conditions alone (1.32-2.97 MPa, Johnston et al. 2014,
    # J. Micromech. Microeng. 24:035017); x1.4 assumed for a gel used for months.
    "gel_young_scale": 1.4,
    # Pad friction 1.0 is assumed in sims.arm.ArmParams; dusty or aged silicone on glass or
    # skin is lower (assumed x0.7).
    "friction_scale": 0.7,
    # Real objects heavier than the catalogue ranges of tasks.touch.fragile (a filled vial,
    # a ripe fruit): assumed +25 %.
    "mass_scale:object": 1.25,
    # Servo gain error of the arm and jaw position loops (payload-dependent tuning): assumed
    # -15 %.
    "actuator_gain_scale": 0.85,
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
            "touch-latency",
            "FragileGrasp",
            "touch actuation latency: arm and jaw commands arrive 1 control step (20 ms) late "
            "(a separate profile; the scripted touch controller estimates the delay in free "
            "motion and predicts through it)",
            ("actions delayed by 1 control step (20 ms)",),
            values={"action_delay_steps": 1},
        ),
        RealityProfile(
            "touch-composite",
            "FragileGrasp",
            "aged gel, marker tracking errors, 25 fps tactile frames, slippery pads, heavier "
            "objects, weaker servos (the held-out touch reality proxy of the sim2real suite)",
            ("gel Young's modulus x1.4 (aged, stiffer gel; the pad calibration is the fresh "
             "gel's)", "marker tracking noise 0.012 mm (0.2 px) per marker and axis",
             "3 % of markers lost per frame (held at their last displacement)",
             "tactile frames at 25 fps: touch features refresh every 2nd control step",
             "contact friction x0.7 (pads and objects)", "object mass and inertia x1.25",
             "actuator gain x0.85 (arm and jaw servos)"),
            values=_TOUCH_VALUES,
            touch=TouchSensorGap(
                # 0.2 px centroid noise (sims.tactile observe_markers default, assumed) at
                # 320 px / 18.6 mm (GelSight Mini) = 0.0116 mm; the same assumed for depth
                marker_noise_mm=0.2 / MARKER_PX_PER_MM,
                lost_markers=0.03,  # assumed: worn gel, 3x observe_markers' 1 % default
                # GelSight Mini streams 25 fps (GelSight Inc. datasheet) = 40 ms per frame,
                # 2 control periods of 20 ms
                frame_steps=round(1.0 / 25.0 / TOUCH_CONTROL_PERIOD_S),
            ),
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
