"""Sim2Real: domain randomization, reality proxies, robot logs, system identification, transfer.

Modules: :mod:`sim2real.randomization` (samplers), :mod:`sim2real.reality`
(reality-proxy profiles), :mod:`sim2real.wrappers` (Gymnasium wrappers and
``make_env``), :mod:`sim2real.logs` (log format, validation, replay),
:mod:`sim2real.sysid` (identification on ``mujoco.sysid``),
:mod:`sim2real.transfer` (transfer loss and correlation scored by ``metrics``)
and :mod:`sim2real.suites` (the ``sim2real`` evaluation suite; importing it
registers the suite and the paired transfer env ids).
"""
