"""A 7-DoF collaborative arm with a parallel-jaw gripper, added to an MjSpec.

The kinematics, joint limits, torque limits and link mass properties are those
of the Franka Emika Panda:

* link frames (modified Denavit-Hartenberg) ``d1 = 0.333``, ``d3 = 0.316``,
  ``a4 = 0.0825``, ``a5 = -0.0825``, ``d5 = 0.384``, ``a7 = 0.088``,
  ``d_flange = 0.107`` m and joint position / torque / velocity limits from the
  Franka Control Interface documentation ("Robot and interface specifications");
* link masses, centres of mass and inertia tensors identified by Gaz, Cognetti,
  Oliva, Robuffo Giordano and De Luca, "Dynamic identification of the Franka
  Emika Panda robot with retrieval of feasible parameters using penalty-based
  optimization", IEEE RA-L 4(4), 2019 (the values also used by MuJoCo
  Menagerie's ``franka_emika_panda``);
* the gripper is a Franka Hand class parallel-jaw gripper: two slide fingers,
  0-40 mm stroke each, 70 N continuous grasping force, 0.73 kg hand (Franka Hand
  datasheet); here each finger has its own force-limited position actuator, so
  the two fingers comply like a floating jaw and squeeze with at most
  ``grip_force_limit`` each.

The arm compensates gravity as a torque-controlled arm does internally
(``gravcomp`` on every arm body, routed through the actuators with
``actgravcomp`` so compensation counts against the torque limits). Each finger
carries a box pad geom whose ``+z`` face is its sensing surface (the face
pointing at the other finger), where ``sims.tactile.TactilePad`` attaches.

Element names carry ``name_prefix`` (default ``"arm"``): joints
``arm_joint1..7``, actuators ``arm_act1..7``, fingers ``arm_finger_left`` /
``arm_finger_right`` (joints and actuators of that name plus ``_act``), pad
geoms ``arm_left_pad`` / ``arm_right_pad``, pad sites ``arm_left_pad_site`` /
``arm_right_pad_site``, end-effector site ``arm_ee_site`` (the tool centre
point between the pad centres). :class:`ArmHandles` lists them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

try:  # the clip ufunc itself (np.clip adds ~2 us of argument handling per call)
    from numpy._core.umath import clip as _clip
except ImportError:  # pragma: no cover - NumPy 1.x, or the private module moved
    _clip = np.clip

try:  # the gufunc np.linalg.inv calls (same LAPACK routine, same bits, no wrapper overhead)
    from numpy.linalg._umath_linalg import inv as _inv_gufunc

    def _inv(a: np.ndarray) -> np.ndarray:
        return _inv_gufunc(a, signature="d->d")
except ImportError:  # pragma: no cover - private module moved: the public function, same result
    _inv = np.linalg.inv

N_ARM_JOINTS = 7


@dataclass(frozen=True)
class ArmParams:
    """Kinematics, mass properties, limits and servo gains of the arm and gripper."""

    # Link frame offsets (pos, quat in the parent link) - Franka FCI kinematics (modified DH).
    link_pos: tuple[tuple[float, float, float], ...] = (
        (0.0, 0.0, 0.333), (0.0, 0.0, 0.0), (0.0, -0.316, 0.0), (0.0825, 0.0, 0.0),
        (-0.0825, 0.384, 0.0), (0.0, 0.0, 0.0), (0.088, 0.0, 0.0),
    )  # [m], Franka FCI docs (d1, d3, a4, a5/d5, a7)
    link_alpha: tuple[float, ...] = (
        0.0, -math.pi / 2, math.pi / 2, math.pi / 2, -math.pi / 2, math.pi / 2, math.pi / 2,
    )  # [rad] twist about x of each link frame, Franka FCI docs
    flange_offset: float = 0.107  # [m] link7 to flange, Franka FCI docs
    link_mass: tuple[float, ...] = (
        4.970684, 0.646926, 3.228604, 3.587895, 1.225946, 1.666555, 0.735522,
    )  # [kg], Gaz et al. 2019 (RA-L) identified parameters
    link_com: tuple[tuple[float, float, float], ...] = (
        (0.003875, 0.002081, -0.04762), (-0.003141, -0.02872, 0.003495),
        (0.027518, 0.039252, -0.066502), (-0.05317, 0.104419, 0.027454),
        (-0.011953, 0.041065, -0.038437), (0.060149, -0.014117, -0.010517),
        (0.010517, -0.004252, 0.061597),
    )  # [m] centre of mass in the link frame, Gaz et al. 2019
    link_inertia: tuple[tuple[float, float, float, float, float, float], ...] = (
        (0.70337, 0.70661, 0.0091170, -0.00013900, 0.0067720, 0.019169),
        (0.0079620, 0.028110, 0.025995, -0.0039250, 0.010254, 0.00070400),
        (0.037242, 0.036155, 0.010830, -0.0047610, -0.011396, -0.012805),
        (0.025853, 0.019552, 0.028323, 0.0077960, -0.0013320, 0.0086410),
        (0.035549, 0.029474, 0.0086270, -0.0021170, -0.0040370, 0.00022900),
        (0.0019640, 0.0043540, 0.0054330, 0.00010900, -0.0011580, 0.00034100),
        (0.012516, 0.010027, 0.0048150, -0.00042800, -0.0011960, -0.00074100),
    )  # [kg m^2] (Ixx, Iyy, Izz, Ixy, Ixz, Iyz) about the COM, Gaz et al. 2019
    joint_range: tuple[tuple[float, float], ...] = (
        (-2.8973, 2.8973), (-1.7628, 1.7628), (-2.8973, 2.8973), (-3.0718, -0.0698),
        (-2.8973, 2.8973), (-0.0175, 3.7525), (-2.8973, 2.8973),
    )  # [rad], Franka FCI docs
    torque_limit: tuple[float, ...] = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)  # [N m], FCI docs
    velocity_limit: tuple[float, ...] = (
        2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61,
    )  # [rad/s], FCI docs (used by ArmController to clip joint steps)
    armature: float = 0.1  # [kg m^2] reflected rotor inertia per joint, assumed (Menagerie value)
    kp: tuple[float, ...] = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)  # [N m/rad]
    # servo stiffness per joint, MuJoCo Menagerie panda position servos
    damping_ratio: float = 1.0  # 1, critically damped joint servos, assumed
    home: tuple[float, ...] = (0.0, -0.3, 0.0, -2.2, 0.0, 1.9, -math.pi / 4)  # [rad]
    # ready pose with the gripper pointing down, assumed
    hand_mass: float = 0.73  # [kg] Franka Hand datasheet
    hand_z: float = 0.0584  # [m] flange to finger base, Franka Hand CAD (Menagerie)
    tcp_z: float = 0.1034  # [m] flange to TCP, Franka Hand datasheet
    finger_mass: float = 0.015  # [kg] each finger, Menagerie franka hand
    finger_stroke: float = 0.04  # [m] per finger, Franka Hand datasheet (80 mm total)
    grip_force_limit: float = 70.0  # [N] continuous grasping force per jaw, Franka Hand datasheet
    finger_kp: float = 3000.0  # [N/m] finger position-servo stiffness, assumed
    finger_armature: float = 0.05  # [kg] reflected motor inertia of each finger, assumed
    finger_speed: float = 0.1  # [m/s] free jaw speed at the force limit (Franka Hand class
    # gripper, ~0.1 m/s max; assumed); sets the servo damping kv = force limit / speed
    pad_half: tuple[float, float, float] = (0.0093, 0.00715, 0.0020)  # [m] pad box half extents
    # (x: across the finger, y: along the finger, z: thickness); the face is exactly a GelSight
    # Mini class 18.6 x 14.3 mm sensing area (GelSight Inc. datasheet), so every contact on the
    # pad lies on the sensed grid
    pad_friction: float = 1.0  # 1, silicone elastomer on rigid objects ~1 (assumed)
    pad_timeconst: float = 0.005  # [s] contact time constant of the pads (stiffer than
    # MuJoCo's 0.02 default so a squeezed rigid object sinks < 2 mm), assumed
    finger_half: tuple[float, float, float] = (0.0110, 0.0050, 0.0270)  # [m] finger link box

    def __post_init__(self) -> None:
        """Validate array lengths and positive limits."""
        for name in ("link_pos", "link_alpha", "link_mass", "link_com", "link_inertia",
                     "joint_range", "torque_limit", "velocity_limit", "kp", "home"):
            if len(getattr(self, name)) != N_ARM_JOINTS:
                raise ValueError(
                    f"ArmParams.{name}: got {len(getattr(self, name))} entries; expected "
                    f"{N_ARM_JOINTS} (one per arm joint)"
                )
        for name in ("grip_force_limit", "finger_kp", "finger_stroke", "hand_mass"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ArmParams.{name}={getattr(self, name)!r}; expected a value > 0")


@dataclass(frozen=True)
class ArmHandles:
    """Names of every element of one arm (look ids up with ``model.joint(name)`` etc.)."""

    prefix: str
    base: str  # base body
    hand: str  # hand body
    joints: tuple[str, ...]  # 7 arm joints, base to wrist
    actuators: tuple[str, ...]  # 7 arm position servos
    finger_joints: tuple[str, str]  # left, right slide joints (opening of each jaw [m])
    finger_actuators: tuple[str, str]  # left, right force-limited position servos
    ee_site: str  # tool centre point (between the pad centres)
    left_pad: str  # pad box geoms; sensing face "+z" of the geom
    right_pad: str
    left_pad_site: str  # sites at the centre of each pad's sensing face, z = outward normal
    right_pad_site: str
    joint_pos_sensors: tuple[str, ...]  # jointpos sensors for the 7 arm joints + 2 fingers
    joint_vel_sensors: tuple[str, ...]  # jointvel sensors for the 7 arm joints + 2 fingers
    joint_torque_sensors: tuple[str, ...]  # actuatorfrc sensors for the 9 actuators
    pad_face: str = "+z"  # sensing face of the pad geoms for sims.tactile.TactilePad


def _quat_x(angle: float) -> list[float]:
    return [math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0]


def _quat_z(angle: float) -> list[float]:
    return [math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2)]


def add_arm(
    spec: mujoco.MjSpec,
    parent: mujoco.MjsBody,
    name_prefix: str = "arm",
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0),
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0),
    params: ArmParams | None = None,
) -> ArmHandles:
    """Add the arm, its gripper, actuators and sensors under ``parent``.

    Args:
        spec: The model being built.
        parent: Body the arm base is fixed to (e.g. ``spec.worldbody``).
        name_prefix: Prefix of every element name (unique per arm).
        pos: Base position in the parent frame [m].
        quat: Base orientation (w, x, y, z) in the parent frame.
        params: Arm constants; ``ArmParams()`` when None.

    Returns:
        The names of every joint, actuator, site, pad geom and sensor added.
    """
    p = params if params is not None else ArmParams()
    n = name_prefix
    # joint ranges are compiled in the spec's angle unit (MjSpec defaults to degrees)
    ang = 180.0 / math.pi if spec.compiler.degree else 1.0
    base = parent.add_body(name=f"{n}_base", pos=list(pos), quat=list(quat))
    # Base casting: 0.63 kg (Gaz et al. 2019 link0), visual only.
    base.add_geom(name=f"{n}_base_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.06, 0.07, 0],
                  pos=[0, 0, 0.07], mass=0.629769, contype=0, conaffinity=0,
                  rgba=[0.9, 0.9, 0.9, 1])
    body = base
    joints, acts = [], []
    for i in range(N_ARM_JOINTS):
        k = i + 1
        link = body.add_body(name=f"{n}_link{k}", pos=list(p.link_pos[i]),
                             quat=_quat_x(p.link_alpha[i]))
        link.mass = p.link_mass[i]
        link.ipos = list(p.link_com[i])
        link.fullinertia = list(p.link_inertia[i])
        link.explicitinertial = True
        link.gravcomp = 1.0
        jn = f"{n}_joint{k}"
        j = link.add_joint(name=jn, type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1],
                           range=[ang * r for r in p.joint_range[i]],
                           armature=p.armature)
        j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        j.actgravcomp = True
        # visual capsule from the joint towards the next link's origin (no collisions:
        # only the hand and fingers touch the world)
        nxt = p.link_pos[i + 1] if i + 1 < N_ARM_JOINTS else (0.0, 0.0, p.flange_offset)
        link.add_geom(name=f"{n}_link{k}_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE,
                      size=[0.055, 0, 0], mass=0, contype=0, conaffinity=0,
                      rgba=[0.95, 0.95, 0.95, 1])
        if float(np.linalg.norm(nxt)) > 1e-6:
            link.add_geom(name=f"{n}_link{k}_rod", type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                          fromto=[0, 0, 0, *nxt], size=[0.045, 0, 0], mass=0, contype=0,
                          conaffinity=0, rgba=[0.95, 0.95, 0.95, 1])
        joints.append(jn)
        body = link
    hand = body.add_body(name=f"{n}_hand", pos=[0, 0, p.flange_offset], quat=_quat_z(-math.pi / 4))
    hand.mass = p.hand_mass
    hand.ipos = [-0.01, 0.0, 0.03]  # Menagerie franka hand COM [m]
    hand.inertia = [0.001, 0.0025, 0.0017]  # Menagerie franka hand [kg m^2]
    hand.explicitinertial = True
    hand.gravcomp = 1.0
    hand.add_geom(name=f"{n}_hand_geom", type=mujoco.mjtGeom.mjGEOM_BOX,
                  size=[0.02, 0.09, 0.025], pos=[0, 0, 0.03], mass=0,
                  rgba=[0.85, 0.85, 0.85, 1])
    hand.add_site(name=f"{n}_ee_site", pos=[0, 0, p.tcp_z], size=[0.005, 0, 0],
                  rgba=[1, 0, 0, 1])
    fh = p.finger_half
    ph = p.pad_half
    fingers, fingers_act = [], []
    pads, pad_sites = [], []
    tcp_in_finger = p.tcp_z - p.hand_z
    for side, sgn in (("left", 1.0), ("right", -1.0)):
        fname = f"{n}_finger_{side}"
        f = hand.add_body(name=fname, pos=[0, 0, p.hand_z])
        f.gravcomp = 1.0
        fj = f.add_joint(name=fname, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, sgn, 0],
                         range=[0.0, p.finger_stroke], armature=p.finger_armature)
        fj.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        fj.actgravcomp = True
        # the pad's sensing face lies at y = sgn * q (jaw opening q of this finger)
        f.add_geom(name=f"{fname}_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(fh),
                   pos=[0, sgn * (2 * ph[2] + fh[1]), tcp_in_finger + ph[1] - fh[2]],
                   mass=p.finger_mass, rgba=[0.3, 0.3, 0.3, 1])
        # pad geom frame: z points at the other finger (inward), y along the finger (+hand z)
        pad_quat = _quat_x(sgn * math.pi / 2)
        pname = f"{n}_{side}_pad"
        f.add_geom(name=pname, type=mujoco.mjtGeom.mjGEOM_BOX, size=list(ph),
                   pos=[0, sgn * ph[2], tcp_in_finger], quat=pad_quat, mass=0.0,
                   friction=[p.pad_friction, 0.005, 0.0001], condim=4,
                   solref=[p.pad_timeconst, 1.0],
                   rgba=[0.2, 0.5, 0.9, 1])
        f.add_site(name=f"{pname}_site", pos=[0, 0.0, tcp_in_finger], quat=pad_quat,
                   size=[0.003, 0, 0], rgba=[0, 1, 0, 1])
        fingers.append(fname)
        pads.append(pname)
        pad_sites.append(f"{pname}_site")
    spec.add_exclude(name=f"{n}_finger_exclude", bodyname1=fingers[0], bodyname2=fingers[1])
    for i, jn in enumerate(joints):
        a = spec.add_actuator(name=f"{n}_act{i + 1}", target=jn,
                              trntype=mujoco.mjtTrn.mjTRN_JOINT)
        a.set_to_position(kp=p.kp[i], dampratio=p.damping_ratio)
        a.ctrlrange = list(p.joint_range[i])
        a.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        a.forcerange = [-p.torque_limit[i], p.torque_limit[i]]
        a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        acts.append(a.name)
    for fname in fingers:
        a = spec.add_actuator(name=f"{fname}_act", target=fname,
                              trntype=mujoco.mjtTrn.mjTRN_JOINT)
        # a geared jaw drive: heavy damping bounds the free closing speed (no tunnelling)
        a.set_to_position(kp=p.finger_kp, kv=p.grip_force_limit / p.finger_speed)
        # commands below 0 let a jaw squeeze thin objects up to its force limit
        a.ctrlrange = [-p.finger_stroke, p.finger_stroke]
        a.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        a.forcerange = [-p.grip_force_limit, p.grip_force_limit]
        a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        fingers_act.append(a.name)
    all_joints = [*joints, *fingers]
    pos_s, vel_s, trq_s = [], [], []
    for jn in all_joints:
        spec.add_sensor(name=f"{jn}_pos", type=mujoco.mjtSensor.mjSENS_JOINTPOS, objname=jn,
                        objtype=mujoco.mjtObj.mjOBJ_JOINT)
        spec.add_sensor(name=f"{jn}_vel", type=mujoco.mjtSensor.mjSENS_JOINTVEL, objname=jn,
                        objtype=mujoco.mjtObj.mjOBJ_JOINT)
        pos_s.append(f"{jn}_pos")
        vel_s.append(f"{jn}_vel")
    for an in [*acts, *fingers_act]:
        spec.add_sensor(name=f"{an}_frc", type=mujoco.mjtSensor.mjSENS_ACTUATORFRC, objname=an,
                        objtype=mujoco.mjtObj.mjOBJ_ACTUATOR)
        trq_s.append(f"{an}_frc")
    return ArmHandles(
        prefix=n, base=base.name, hand=hand.name, joints=tuple(joints), actuators=tuple(acts),
        finger_joints=(fingers[0], fingers[1]), finger_actuators=(fingers_act[0], fingers_act[1]),
        ee_site=f"{n}_ee_site", left_pad=pads[0], right_pad=pads[1],
        left_pad_site=pad_sites[0], right_pad_site=pad_sites[1],
        joint_pos_sensors=tuple(pos_s), joint_vel_sensors=tuple(vel_s),
        joint_torque_sensors=tuple(trq_s),
    )


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice when it is a run of consecutive indices (a view instead of a gather)."""
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + int(idx.size))
    return idx


def _quat_to_yaw_down(xmat: np.ndarray) -> float:
    """Yaw of the hand's x axis about world z [rad]."""
    return math.atan2(xmat[1, 0], xmat[0, 0])


class ArmController:
    """Joint targets from end-effector delta commands (damped least squares) or joint positions.

    End-effector mode keeps the gripper pointing straight down (hand z along
    world -z) and servoes the TCP position and the hand yaw; one damped
    least-squares step per call on the site Jacobian (``mujoco.mj_jacSite``) with
    a null-space pull towards the home posture, and joint-speed clipping at the
    Franka velocity limits.

    Args:
        model: Compiled model containing the arm.
        handles: Names returned by :func:`add_arm`.
        params: The arm's constants (the ones passed to :func:`add_arm`).
        damping: Damping ``lambda`` of the least-squares solve [m].
        nullspace_gain: Gain of the pull towards ``params.home`` in the null space (1).
    """

    def __init__(self, model: mujoco.MjModel, handles: ArmHandles, params: ArmParams | None = None,
                 damping: float = 0.05, nullspace_gain: float = 0.2):
        self.model = model
        self.handles = handles
        self.params = params if params is not None else ArmParams()
        if not damping > 0:
            raise ValueError(f"damping={damping!r}; expected > 0 (typ. 0.01-0.1 m)")
        self.damping = float(damping)
        self.nullspace_gain = float(nullspace_gain)
        self.site_id = int(model.site(handles.ee_site).id)
        self.qadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in handles.joints])
        self.dadr = np.array([model.jnt_dofadr[model.joint(j).id] for j in handles.joints])
        self.fqadr = np.array([model.jnt_qposadr[model.joint(j).id] for j in handles.finger_joints])
        self.act_ids = np.array([model.actuator(a).id for a in handles.actuators])
        self.finger_act_ids = np.array([model.actuator(a).id for a in handles.finger_actuators])
        self.lo = np.array([r[0] for r in self.params.joint_range])
        self.hi = np.array([r[1] for r in self.params.joint_range])
        self._home = np.asarray(self.params.home, dtype=float)
        self._vmax = np.asarray(self.params.velocity_limit, dtype=float)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        # per-call work arrays of ik_targets and index slices (the arm's dofs and qpos are
        # consecutive when built by add_arm; index arrays otherwise)
        # Fortran order: the layout np.vstack gave the gathered Jacobian rows, which decides
        # the BLAS kernel of the products below and so their last bits
        self._jac = np.zeros((6, N_ARM_JOINTS), order="F")
        self._rdes = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
        self._quat = np.zeros(4)
        self._rot = np.zeros(3)
        self._err = np.zeros(6)
        self._damping2 = self.damping ** 2
        self._vmax_dt = float("nan")
        self._vmax_step = self._vmax
        self._dslice = _as_slice(self.dadr)
        self._qslice = _as_slice(self.qadr)

    def set_home(self, data: mujoco.MjData) -> None:
        """Put the arm in its home posture (qpos and servo targets), fingers open."""
        data.qpos[self.qadr] = self.params.home
        data.qpos[self.fqadr] = self.params.finger_stroke
        data.ctrl[self.act_ids] = self.params.home
        data.ctrl[self.finger_act_ids] = self.params.finger_stroke

    def ee_pos(self, data: mujoco.MjData) -> np.ndarray:
        """TCP position in the world [m] (copy)."""
        return data.site_xpos[self.site_id].copy()

    def ee_yaw(self, data: mujoco.MjData) -> float:
        """Yaw of the hand about world z [rad]."""
        return _quat_to_yaw_down(data.site_xmat[self.site_id].reshape(3, 3))

    def opening(self, data: mujoco.MjData) -> float:
        """Distance between the two pad faces [m]."""
        return float(np.sum(data.qpos[self.fqadr]))

    def ik_targets(self, data: mujoco.MjData, target_pos: np.ndarray, target_yaw: float,
                   dt: float) -> np.ndarray:
        """Joint targets moving the TCP towards ``target_pos`` / ``target_yaw`` (gripper down).

        Args:
            data: Current state (after ``mj_forward`` or a step).
            target_pos: Desired TCP position in the world [m].
            target_yaw: Desired hand yaw about world z [rad].
            dt: Control period [s] (bounds the joint step by the velocity limits).

        Returns:
            ``(7,)`` joint position targets [rad] within the joint limits.
        """
        # Same operations on the same memory layouts as the plain NumPy formulation (so the same
        # BLAS/LAPACK paths and bit-identical results), with the buffers preallocated and the
        # ufunc / gufunc called directly (np.clip, np.linalg.inv, np.vstack cost more in Python
        # argument handling than in arithmetic at these sizes).
        jacp, jacr, jac = self._jacp, self._jacr, self._jac
        mujoco.mj_jacSite(self.model, data, jacp, jacr, self.site_id)
        dsl = self._dslice
        jac[:3] = jacp[:, dsl]
        jac[3:] = jacr[:, dsl]
        xmat = data.site_xmat[self.site_id].reshape(3, 3)
        cy, sy = math.cos(target_yaw), math.sin(target_yaw)
        # desired frame: x = (cos, sin, 0), z = (0, 0, -1), y = z cross x
        rdes = self._rdes
        rdes[0, 0] = cy
        rdes[0, 1] = sy
        rdes[1, 0] = sy
        rdes[1, 1] = -cy
        rerr = rdes @ xmat.T
        quat, rot, err = self._quat, self._rot, self._err
        mujoco.mju_mat2Quat(quat, rerr.ravel())
        mujoco.mju_quat2Vel(rot, quat, 1.0)
        np.subtract(target_pos, data.site_xpos[self.site_id], out=err[:3])
        err[3:] = rot
        jjt = jac @ jac.T
        jjt.ravel()[::7] += self._damping2  # the diagonal
        # np.linalg.inv's own gufunc (LU solve); J J^T + lambda^2 I is positive definite
        jpinv = jac.T @ _inv(jjt)
        q = data.qpos[self._qslice]
        # damped least-squares step plus a null-space pull towards home: (I - J^+ J)(home - q)
        dq = jpinv @ err
        h = self._home - q
        dq += self.nullspace_gain * (h - jpinv @ (jac @ h))
        if dt != self._vmax_dt:  # joint step limits of this control period (cached per dt)
            self._vmax_dt, self._vmax_step = dt, self._vmax * dt
        vmax = self._vmax_step
        scale = float((np.abs(dq) / vmax).max())
        if scale > 1.0:
            dq /= scale
        return _clip(q + dq, self.lo, self.hi)

    def joint_targets(self, q: np.ndarray) -> np.ndarray:
        """Joint-position mode: ``q`` clipped to the joint limits [rad]."""
        q = np.asarray(q, dtype=float)
        if q.shape != (N_ARM_JOINTS,):
            raise ValueError(f"q: shape {q.shape}; expected ({N_ARM_JOINTS},) joint angles [rad]")
        return np.clip(q, self.lo, self.hi)

    def apply(self, data: mujoco.MjData, q_target: np.ndarray, finger_target: float) -> None:
        """Write arm joint targets and the per-jaw finger target [m] into ``data.ctrl``.

        ``finger_target`` is each jaw's commanded opening; values below the object's
        half width squeeze it with ``finger_kp * error``, saturating at the force limit.
        """
        data.ctrl[self.act_ids] = q_target
        s = self.params.finger_stroke
        data.ctrl[self.finger_act_ids] = float(np.clip(finger_target, -s, s))
