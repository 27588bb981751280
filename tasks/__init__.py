"""Gymnasium tasks of embodisim; importing this package registers ``embodisim/*-v0``."""

from tasks.registry import TASKS, register_all

register_all()

__all__ = ["TASKS", "register_all"]
