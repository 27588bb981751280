"""A four-wheel skid-steer planetary rover, added to an MjSpec.

Scale and mass are those of a small science rover in the 40-60 kg class
(e.g. Sojourner 11.5 kg, Yutu-2 135 kg, CADRE 2 kg; a 50 kg rover sits between
them; assumed). Each wheel has a real hinge joint driven by a velocity servo
with a torque limit, so traction is limited by friction x normal load, and
therefore by gravity: on the Moon the same wheel command slips more than on
Earth.

Sensors (everything the reference controller may read):

* ``rover_gyro`` / ``rover_accel``: IMU rate gyro and accelerometer;
* ``rover_quat``: attitude from the IMU's attitude filter (frame orientation);
* ``rover_wheel_vel_*``: wheel encoders;
* ``rover_range_*``: five forward-looking laser rangefinders (hazard detection);
* ``rover_goal_vec``: the goal position in the rover frame as reported by the
  navigation system (in a real mission, a localization fix against a map or a
  beacon; here the simulator's frame sensor, to which the environment adds noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np


@dataclass(frozen=True)
class RoverParams:
    """Geometry, mass properties and drive limits of the rover."""

    chassis_half: tuple[float, float, float] = (0.35, 0.25, 0.08)  # half extents [m], assumed
    chassis_mass: float = 42.0  # [kg], assumed (small science rover class)
    wheel_radius: float = 0.15  # [m], assumed
    wheel_half_width: float = 0.05  # [m], assumed
    wheel_mass: float = 2.0  # [kg] each, assumed
    wheelbase_half: float = 0.28  # x offset of the axles from the centre [m]
    track_half: float = 0.34  # y offset of the wheels from the centre [m]
    axle_drop: float = 0.10  # axles below the chassis centre [m]
    wheel_torque_limit: float = 12.0  # [N m] per wheel, assumed brushless hub motor + gear
    servo_gain: float = 40.0  # velocity-servo gain kv [N m s/rad]
    # Passive vertical suspension per wheel (slide joint with spring and damper), as on
    # rovers whose wheels must all stay on uneven ground; stiffness gives ~2.5 cm static
    # sag per wheel at 1 g (assumed design value).
    suspension_stiffness: float = 5000.0  # [N/m]
    suspension_damping: float = 300.0  # [N s/m]
    suspension_travel: float = 0.06  # [m] +/- travel
    max_wheel_speed: float = 3.0  # [rad/s] at full command
    range_max: float = 4.0  # rangefinder cutoff [m]
    range_angles_deg: tuple[float, ...] = (-40.0, -20.0, 0.0, 20.0, 40.0)  # yaw of each beam

    @property
    def total_mass(self) -> float:
        """Chassis plus four wheels [kg]."""
        return self.chassis_mass + 4 * self.wheel_mass

    @property
    def rest_height(self) -> float:
        """Chassis-centre height above flat ground when resting on its wheels [m]."""
        return self.wheel_radius + self.axle_drop


WHEELS = ("fl", "fr", "rl", "rr")


def _quat_z(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


def add_rover(
    spec: mujoco.MjSpec,
    pos: tuple[float, float, float],
    yaw: float,
    params: RoverParams,
    friction: float,
    headlight_intensity: float = 0.0,
    light_scale: float = 1.0,
    camera_fovy: float = 60.0,
) -> None:
    """Add the rover (bodies, joints, actuators, sensors, camera, headlight) to ``spec``.

    Args:
        spec: the scene being built.
        pos: chassis-centre position [m].
        yaw: heading [rad] from +x.
        params: rover constants.
        friction: Coulomb friction of the wheels (the regolith's value).
        headlight_intensity: headlight radiant intensity [W/sr]; 0 leaves it off.
        light_scale: divide radiometric quantities by this to get MuJoCo light colours
            (see ``scenes.build`` for the convention).
        camera_fovy: vertical field of view of the forward camera [deg].
    """
    p = params
    rover = spec.worldbody.add_body(name="rover", pos=list(pos), quat=_quat_z(yaw))
    rover.add_freejoint(name="rover_root")
    rover.add_geom(
        name="rover_chassis",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=list(p.chassis_half),
        mass=p.chassis_mass,
        rgba=[0.85, 0.85, 0.8, 1.0],
        friction=[friction, 0.005, 0.0001],
    )
    mast_h = 0.35
    rover.add_geom(
        name="rover_mast",
        type=mujoco.mjtGeom.mjGEOM_CYLINDER,
        size=[0.03, mast_h / 2, 0],
        pos=[0.2, 0.0, p.chassis_half[2] + mast_h / 2],
        mass=0.5,
        contype=0,
        conaffinity=0,
        rgba=[0.5, 0.5, 0.5, 1.0],
    )
    rover.add_site(name="rover_imu", pos=[0.0, 0.0, 0.0])
    cam_z = p.chassis_half[2] + mast_h
    # camera looks along +x of the rover, pitched 15 deg down; MuJoCo cameras look along -z
    pitch = math.radians(15.0)
    cam_quat = _camera_quat(pitch)
    rover.add_camera(name="rover_cam", pos=[0.2, 0.0, cam_z], quat=cam_quat, fovy=camera_fovy)
    if headlight_intensity > 0:
        val = headlight_intensity / light_scale
        rover.add_light(
            name="headlight",
            type=mujoco.mjtLightType.mjLIGHT_SPOT,
            pos=[0.3, 0.0, cam_z - 0.05],
            dir=[math.cos(pitch), 0.0, -math.sin(pitch)],
            diffuse=[val, val, val],
            attenuation=[0.0, 0.0, 1.0],  # inverse-square falloff: E = I cos(theta) / r^2
            cutoff=35.0,
            exponent=2.0,
            castshadow=False,
            specular=[0, 0, 0],
        )
    for i, angle in enumerate(p.range_angles_deg):
        a = math.radians(angle)
        # beam direction: forward at yaw `a`, tilted 12 deg down to see rocks and ledges
        d = np.array([math.cos(a), math.sin(a), -math.tan(math.radians(12.0))])
        d /= np.linalg.norm(d)
        rover.add_site(
            name=f"rover_range_{i}",
            pos=[p.chassis_half[0], 0.0, 0.0],
            quat=_z_to(d),
        )
    wheel_quat = [math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0]  # cylinder axis -> y
    for name, (sx, sy) in zip(WHEELS, ((1, 1), (1, -1), (-1, 1), (-1, -1)), strict=True):
        wb = rover.add_body(
            name=f"rover_wheel_{name}",
            pos=[sx * p.wheelbase_half, sy * p.track_half, -p.axle_drop],
        )
        wb.add_joint(
            name=f"rover_susp_{name}",
            type=mujoco.mjtJoint.mjJNT_SLIDE,
            axis=[0, 0, 1],
            stiffness=p.suspension_stiffness,
            damping=p.suspension_damping,
            range=[-p.suspension_travel, p.suspension_travel],
            limited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )
        wb.add_joint(
            name=f"rover_wheel_{name}",
            type=mujoco.mjtJoint.mjJNT_HINGE,
            axis=[0, 1, 0],
            damping=0.05,
            armature=0.01,
        )
        wb.add_geom(
            name=f"rover_wheel_{name}",
            type=mujoco.mjtGeom.mjGEOM_CYLINDER,
            size=[p.wheel_radius, p.wheel_half_width, 0],
            quat=wheel_quat,
            mass=p.wheel_mass,
            friction=[friction, 0.005, 0.0001],
            rgba=[0.2, 0.2, 0.2, 1.0],
            condim=3,
            margin=0.005,
            gap=0.005,  # report near-contacts (< 5 mm) without acting on them
        )
        act = spec.add_actuator(
            name=f"rover_drive_{name}",
            target=f"rover_wheel_{name}",
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
        )
        act.set_to_velocity(kv=p.servo_gain)
        act.ctrlrange = [-p.max_wheel_speed, p.max_wheel_speed]
        act.ctrllimited = True
        act.forcerange = [-p.wheel_torque_limit, p.wheel_torque_limit]
        act.forcelimited = True
        spec.add_sensor(
            name=f"rover_wheel_vel_{name}",
            type=mujoco.mjtSensor.mjSENS_JOINTVEL,
            objtype=mujoco.mjtObj.mjOBJ_JOINT,
            objname=f"rover_wheel_{name}",
        )
    spec.add_sensor(
        name="rover_gyro",
        type=mujoco.mjtSensor.mjSENS_GYRO,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="rover_imu",
    )
    spec.add_sensor(
        name="rover_accel",
        type=mujoco.mjtSensor.mjSENS_ACCELEROMETER,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="rover_imu",
    )
    spec.add_sensor(
        name="rover_quat",
        type=mujoco.mjtSensor.mjSENS_FRAMEQUAT,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="rover_imu",
    )
    for i in range(len(p.range_angles_deg)):
        s = spec.add_sensor(
            name=f"rover_range_{i}",
            type=mujoco.mjtSensor.mjSENS_RANGEFINDER,
            objtype=mujoco.mjtObj.mjOBJ_SITE,
            objname=f"rover_range_{i}",
        )
        s.cutoff = p.range_max
        s.intprm[0] = 1 << int(mujoco.mjtRayDataField.mjRAYDATA_DIST)  # distance only
    spec.add_sensor(
        name="rover_goal_vec",
        type=mujoco.mjtSensor.mjSENS_FRAMEPOS,
        objtype=mujoco.mjtObj.mjOBJ_SITE,
        objname="goal",
        reftype=mujoco.mjtObj.mjOBJ_SITE,
        refname="rover_imu",
    )


def _camera_quat(pitch_down: float) -> list[float]:
    """Quaternion turning MuJoCo's camera frame (looks along -z, up +y) to look along +x."""
    # base: camera -z -> world +x, camera +y -> world +z: rotation matrix columns
    base = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    c, s = math.cos(pitch_down), math.sin(pitch_down)
    pitch = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])  # rotate about y: +x tilts down
    mat = pitch @ base
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, mat.flatten())
    return q.tolist()


def _z_to(direction: np.ndarray) -> list[float]:
    """Quaternion rotating +z onto ``direction`` (rangefinders measure along site +z)."""
    q = np.zeros(4)
    mujoco.mju_quatZ2Vec(q, np.asarray(direction, dtype=np.float64))
    return q.tolist()
