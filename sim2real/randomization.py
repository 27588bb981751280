"""Domain randomization: small pure samplers ``(model, params, rng) -> Sample``.

A *sampler* takes a compiled :class:`mujoco.MjModel`, its parameters (a frozen
dataclass holding the distribution) and one :class:`numpy.random.Generator`,
and returns a :class:`Sample`: a changed **copy** of the model and the values it
drew (named, so they can go into ``info`` and be compared with what system
identification recovers). The input model is never modified.

The vocabulary of values (``friction_scale``, ``mass_scale:rover``,
``actuator_gain_scale``, ``action_delay_steps`` ...) is shared with
:mod:`sim2real.reality` (fixed perturbations) and :mod:`sim2real.sysid`
(identified values): :func:`apply_values` turns any such mapping into a model,
so a randomized, a reality-proxy and an identified model are built the same way.

Values that are not model fields (``action_delay_steps``, ``obs_noise_scale``)
are carried in the sample and applied by :class:`sim2real.wrappers.DomainRandomization`.

A :class:`Randomization` is a named tuple of terms; :data:`RANDOMIZATIONS` lists
the named ones, each distribution written next to the parameter it varies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import mujoco
import numpy as np

# Model fields a sampler may change; apply_to copies exactly these into a live model.
MODEL_FIELDS: tuple[str, ...] = (
    "geom_friction",
    "geom_solref",
    "body_mass",
    "body_inertia",
    "dof_damping",
    "dof_frictionloss",
    "actuator_gainprm",
    "actuator_biasprm",
    "hfield_size",
    "light_diffuse",
    "light_ambient",
)
# Values consumed by the wrapper, not written into the model: action latency, observation
# noise, and the tactile pads' gel modulus and marker tracking noise (touch tasks; the pads'
# marker fields are computed outside MuJoCo, see sim2real.wrappers.set_gel_modulus).
WRAPPER_VALUES: tuple[str, ...] = ("action_delay_steps", "obs_noise_scale", "gel_young_scale",
                                   "marker_noise_mm")


@dataclass(frozen=True)
class Sample:
    """What a sampler returns.

    Attributes:
        model: A changed copy of the input model.
        values: The drawn values by name (dimensionless scales, steps, ...).
    """

    model: mujoco.MjModel
    values: Mapping[str, float]


@dataclass(frozen=True)
class Uniform:
    """``U(low, high)`` (same unit as the parameter it varies)."""

    low: float  # lower bound (parameter's unit)
    high: float  # upper bound (parameter's unit)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high)) or self.low > self.high:
            raise ValueError(
                f"Uniform(low={self.low!r}, high={self.high!r}): expected finite low <= high; "
                "swap the bounds"
            )

    def draw(self, rng: np.random.Generator) -> float:
        """One draw (``low`` exactly when the range is degenerate)."""
        return float(rng.uniform(self.low, self.high)) if self.high > self.low else float(self.low)


@dataclass(frozen=True)
class IntUniform:
    """Integers uniform on ``{low, ..., high}``."""

    low: int  # smallest value (inclusive)
    high: int  # largest value (inclusive)

    def __post_init__(self) -> None:
        if self.low < 0 or self.low > self.high:
            raise ValueError(
                f"IntUniform(low={self.low!r}, high={self.high!r}): expected 0 <= low <= high"
            )

    def draw(self, rng: np.random.Generator) -> int:
        """One draw."""
        return int(rng.integers(self.low, self.high + 1))


@dataclass(frozen=True)
class BodyScale:
    """Scale of named bodies' mass and inertia (payload or manufacturing error)."""

    bodies: tuple[str, ...]  # body names, e.g. ("rover",)
    scale: Uniform  # dimensionless multiplier on mass and inertia


# --- value setters (pure: copy in, changed copy out) ------------------------------------------


def _copy(model: mujoco.MjModel) -> mujoco.MjModel:
    return copy.deepcopy(model)


def _positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name}={value!r}: expected a finite value > 0 (a multiplier)")


def _hinge_dofs(model: mujoco.MjModel) -> np.ndarray:
    """DOFs of hinge and slide joints (free and ball joints carry no joint friction)."""
    kinds = model.jnt_type
    joints = np.flatnonzero((kinds == mujoco.mjtJoint.mjJNT_HINGE) | (kinds == mujoco.mjtJoint.mjJNT_SLIDE))
    return model.jnt_dofadr[joints]


def apply_values(model: mujoco.MjModel, values: Mapping[str, float]) -> mujoco.MjModel:
    """A changed copy of ``model`` with named values applied (relative to ``model``).

    Accepted names: ``gravity_scale``, ``friction_scale`` (sliding friction of
    every geom; MuJoCo combines a pair by max, so all geoms scale together),
    ``mass_scale:<body>`` (mass and inertia), ``damping_scale`` and
    ``frictionloss_add`` [N m] (hinge/slide DOFs), ``actuator_gain_scale``
    (gain and the matching position/velocity bias, so servos stay servos),
    ``contact_timeconst_scale`` (softness: solref time constant of every geom),
    ``terrain_relief_scale`` (height-field elevation range), ``light_scale``
    (diffuse and ambient light); :data:`WRAPPER_VALUES` are ignored here.

    Args:
        model: Nominal model (unchanged).
        values: Name -> value.

    Returns:
        The changed copy.

    Raises:
        ValueError: On an unknown name, an unknown body, or a non-positive scale.
    """
    m = _copy(model)
    for name, raw in values.items():
        v = float(raw)
        key, _, arg = name.partition(":")
        if key in WRAPPER_VALUES:
            continue
        if key == "frictionloss_add":
            if not np.isfinite(v) or v < 0.0:
                raise ValueError(f"frictionloss_add={v!r}: expected a finite value >= 0 [N m]")
            m.dof_frictionloss[_hinge_dofs(m)] += v
            continue
        _positive(name, v)
        if key == "gravity_scale":
            m.opt.gravity[:] = m.opt.gravity * v
        elif key == "friction_scale":
            m.geom_friction[:, 0] *= v
        elif key == "mass_scale":
            try:
                b = m.body(arg).id
            except KeyError:
                raise ValueError(
                    f"{name}: no body {arg!r}; bodies are "
                    f"{[m.body(i).name for i in range(m.nbody)]}"
                ) from None
            m.body_mass[b] *= v
            m.body_inertia[b] *= v
        elif key == "damping_scale":
            m.dof_damping[_hinge_dofs(m)] *= v
        elif key == "actuator_gain_scale":
            m.actuator_gainprm[:, 0] *= v
            m.actuator_biasprm[:, 1:3] *= v  # -kp, -kv of position/velocity servos
        elif key == "contact_timeconst_scale":
            m.geom_solref[:, 0] *= v
        elif key == "terrain_relief_scale":
            m.hfield_size[:, 2] *= v
        elif key == "light_scale":
            m.light_diffuse[:] = m.light_diffuse * v
            m.light_ambient[:] = m.light_ambient * v
        else:
            raise ValueError(
                f"value name {name!r} is unknown; accepted: gravity_scale, friction_scale, "
                "mass_scale:<body>, damping_scale, frictionloss_add, actuator_gain_scale, "
                "contact_timeconst_scale, terrain_relief_scale, light_scale, "
                f"{', '.join(WRAPPER_VALUES)}"
            )
    return m


def apply_to(live: mujoco.MjModel, changed: mujoco.MjModel) -> None:
    """Copy the randomizable fields of ``changed`` into ``live`` in place.

    Environments keep references to their model (data, sensors, renderers), so a
    per-episode change is written into the live model rather than swapping it.

    Args:
        live: The environment's model (modified).
        changed: A model with the same structure (from a sampler or :func:`apply_values`).
    """
    for name in MODEL_FIELDS:
        getattr(live, name)[...] = getattr(changed, name)
    live.opt.gravity[:] = changed.opt.gravity


# --- samplers ---------------------------------------------------------------------------------


def gravity(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale gravity within the body's uncertainty (local anomalies, altitude)."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"gravity_scale": s}), {"gravity_scale": s})


def friction(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale the sliding friction of every contact."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"friction_scale": s}), {"friction_scale": s})


def body_mass(model: mujoco.MjModel, params: BodyScale, rng: np.random.Generator) -> Sample:
    """Scale named bodies' mass and inertia, one draw per body."""
    values = {f"mass_scale:{b}": params.scale.draw(rng) for b in params.bodies}
    return Sample(apply_values(model, values), values)


def joint_damping(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale the viscous damping of hinge/slide joints."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"damping_scale": s}), {"damping_scale": s})


def joint_friction(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Add dry (Coulomb) friction [N m] to hinge/slide joints."""
    v = params.draw(rng)
    return Sample(apply_values(model, {"frictionloss_add": v}), {"frictionloss_add": v})


def actuator_gain(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale every actuator's gain (and servo bias)."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"actuator_gain_scale": s}), {"actuator_gain_scale": s})


def contact_softness(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale the contact time constant (larger = softer, deeper contact)."""
    s = params.draw(rng)
    return Sample(
        apply_values(model, {"contact_timeconst_scale": s}), {"contact_timeconst_scale": s}
    )


def terrain_relief(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale the height field's elevation range."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"terrain_relief_scale": s}), {"terrain_relief_scale": s})


def lighting(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Scale diffuse and ambient light."""
    s = params.draw(rng)
    return Sample(apply_values(model, {"light_scale": s}), {"light_scale": s})


def action_delay(model: mujoco.MjModel, params: IntUniform, rng: np.random.Generator) -> Sample:
    """Draw an action delay [control steps]; applied by the wrapper."""
    k = params.draw(rng)
    return Sample(_copy(model), {"action_delay_steps": float(k)})


def sensor_noise(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Draw an observation-noise scale (std of N(0, s^2) added per obs entry, obs units)."""
    s = params.draw(rng)
    return Sample(_copy(model), {"obs_noise_scale": s})


def gel_stiffness(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Draw a gel Young's-modulus scale of the tactile pads; applied by the wrapper."""
    s = params.draw(rng)
    _positive("gel_young_scale", s)
    return Sample(_copy(model), {"gel_young_scale": s})


def marker_noise(model: mujoco.MjModel, params: Uniform, rng: np.random.Generator) -> Sample:
    """Draw the marker tracking noise [mm] (std per marker and axis); applied by the wrapper."""
    s = params.draw(rng)
    return Sample(_copy(model), {"marker_noise_mm": s})


Sampler = Callable[[mujoco.MjModel, Any, np.random.Generator], Sample]


@dataclass(frozen=True)
class Term:
    """One sampler with its parameters."""

    sampler: Sampler  # a function of this module (picklable by reference)
    params: Any  # its distribution (Uniform, IntUniform, BodyScale)


@dataclass(frozen=True)
class Randomization:
    """A named composition of samplers, applied in order.

    Attributes:
        name: Registry name.
        description: One line.
        terms: The samplers.
    """

    name: str
    description: str
    terms: tuple[Term, ...]

    def sample(self, model: mujoco.MjModel, rng: np.random.Generator) -> Sample:
        """Apply every term in order to a copy of ``model``.

        Args:
            model: Nominal model (unchanged).
            rng: The one generator for all terms.

        Returns:
            The randomized copy and every drawn value.
        """
        values: dict[str, float] = {}
        m = model
        for term in self.terms:
            s = term.sampler(m, term.params, rng)
            m = s.model
            values.update(s.values)
        return Sample(m if m is not model else _copy(model), MappingProxyType(values))


RANDOMIZATIONS: Mapping[str, Randomization] = MappingProxyType({
    r.name: r
    for r in (
        Randomization(
            "rover-dr",
            "rover dynamics: friction, payload, motor gain, joint friction, soil softness, "
            "delay, gravity",
            (
                Term(gravity, Uniform(0.995, 1.005)),  # gravity scale ~ U(0.995, 1.005)
                # ^ bound > lunar free-air anomalies of a few hundred mGal (~0.3 % of 1.62 m/s^2,
                #   GRAIL, Zuber et al. 2013 Science 339:668); Mars similar (MRO, Genova 2016)
                Term(friction, Uniform(0.6, 1.2)),  # ground friction scale ~ U(0.6, 1.2)
                Term(body_mass, BodyScale(("rover",), Uniform(0.9, 1.35))),  # chassis mass ~ U(0.9, 1.35)
                Term(actuator_gain, Uniform(0.6, 1.1)),  # servo gain scale ~ U(0.6, 1.1)
                Term(joint_friction, Uniform(0.0, 0.6)),  # joint dry friction [N m] ~ U(0, 0.6)
                Term(contact_softness, Uniform(1.0, 3.0)),  # contact time-constant scale ~ U(1, 3)
                Term(action_delay, IntUniform(0, 3)),  # action delay [steps] ~ U{0..3}
            ),
        ),
        Randomization(
            "rover-dr-narrow",
            "rover dynamics, narrow ranges around nominal (friction, mass, gain)",
            (
                Term(friction, Uniform(0.9, 1.1)),  # ground friction scale ~ U(0.9, 1.1)
                Term(body_mass, BodyScale(("rover",), Uniform(0.95, 1.05))),  # chassis mass ~ U(0.95, 1.05)
                Term(actuator_gain, Uniform(0.9, 1.1)),  # servo gain scale ~ U(0.9, 1.1)
            ),
        ),
        Randomization(
            "visual",
            "lighting and camera/sensor noise",
            (
                Term(lighting, Uniform(0.5, 1.5)),  # light scale ~ U(0.5, 1.5)
                Term(sensor_noise, Uniform(0.0, 0.02)),  # obs noise std ~ U(0, 0.02) obs units
            ),
        ),
        Randomization(
            "touch-dr",
            "touch manipulation (FragileGrasp): gel stiffness, marker noise, contact friction, "
            "object mass, servo gain",
            (
                # gel Young's modulus scale ~ U(0.8, 1.6): fresh to aged silicone (the Sylgard 184
                # modulus spans x2.2 with cure conditions, Johnston et al. 2014)
                Term(gel_stiffness, Uniform(0.8, 1.6)),
                # marker tracking noise [mm] ~ U(0, 0.02): 0 to 0.35 px at 17.2 px/mm (GelSight Mini)
                Term(marker_noise, Uniform(0.0, 0.02)),
                Term(friction, Uniform(0.6, 1.2)),  # contact friction scale ~ U(0.6, 1.2)
                Term(body_mass, BodyScale(("object",), Uniform(0.8, 1.4))),  # object mass ~ U(0.8, 1.4)
                Term(actuator_gain, Uniform(0.8, 1.15)),  # servo gain scale ~ U(0.8, 1.15)
            ),
        ),
        Randomization(
            "touch-dr-narrow",
            "touch manipulation around identified values: narrow on what the logs identify "
            "(gel stiffness, servo gain), wide on what they do not (friction, object mass)",
            (
                Term(gel_stiffness, Uniform(0.95, 1.05)),  # gel modulus scale ~ U(0.95, 1.05)
                Term(actuator_gain, Uniform(0.97, 1.03)),  # servo gain scale ~ U(0.97, 1.03)
                Term(friction, Uniform(0.6, 1.2)),  # contact friction scale ~ U(0.6, 1.2)
                Term(body_mass, BodyScale(("object",), Uniform(0.8, 1.4))),  # object mass ~ U(0.8, 1.4)
            ),
        ),
    )
})


def get_randomization(name: str) -> Randomization:
    """Look a randomization up by name.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    try:
        return RANDOMIZATIONS[name]
    except KeyError:
        raise ValueError(
            f"--randomization {name!r} is unknown; known: {sorted(RANDOMIZATIONS)}"
        ) from None
