"""Perception from the robot's own camera and instruments (classical, no learning).

* :mod:`tasks.perception.camera` - a colour radiometric camera whose absolute
  scale comes from the scene (``Scene.light_ref``), square-root companded to 8 bit;
* :mod:`tasks.perception.beacon` - goal-beacon detection and ranging (known height,
  levelled with the IMU attitude) from one image;
* :mod:`tasks.perception.tracker` - odometry-propagated sliding median of fixes.

Nothing here reads simulator state at run time: inputs are images, the camera's
calibration (intrinsics and mount, fixed at construction) and IMU readings.
"""

from tasks.perception.beacon import BeaconDetection, BeaconDetector, beacon_position_rover
from tasks.perception.camera import CameraModel, ColourCamera, decode_sqrt8, encode_sqrt8
from tasks.perception.tracker import GoalTracker

__all__ = [
    "BeaconDetection",
    "BeaconDetector",
    "CameraModel",
    "ColourCamera",
    "GoalTracker",
    "beacon_position_rover",
    "decode_sqrt8",
    "encode_sqrt8",
]
