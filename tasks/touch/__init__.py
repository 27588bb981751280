"""Contact-rich manipulation with touch: articulated fixtures and fragile grasping.

Environments (registered in :mod:`tasks.registry`): :class:`DoorOpenEnv`,
:class:`DrawerOpenEnv`, :class:`LeverTurnEnv`, :class:`FragileGraspEnv`; the
shared arm/pad/observation code is :mod:`tasks.touch.base`.
"""

from tasks.touch.articulated import DoorOpenEnv, DrawerOpenEnv, LeverTurnEnv
from tasks.touch.fragile import FragileGraspEnv

__all__ = ["DoorOpenEnv", "DrawerOpenEnv", "FragileGraspEnv", "LeverTurnEnv"]
