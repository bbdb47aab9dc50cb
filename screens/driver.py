"""The terminal driver: Textual's, without any-motion mouse tracking (POLISH 18).

Textual turns on ``?1003h`` (every mouse move is reported): over SSH each move of the mouse
across the terminal is sent to the bastion, and selecting text to copy needs shift. Button
events with drag (``?1002h``) keep clicks, the wheel and dragging scrollbars; only hover
effects are lost."""

from __future__ import annotations

from typing import Any


def quiet_mouse(driver_class: Any) -> Any:
    """``driver_class`` with button-event mouse tracking instead of any-motion tracking
    (Textual's Linux driver only: others are returned as they are)."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # pragma: no cover - not on this platform
        return driver_class
    if not (isinstance(driver_class, type) and issubclass(driver_class, LinuxDriver)):
        return driver_class

    class QuietMouseDriver(driver_class):
        def _enable_mouse_support(self) -> None:
            if not self._mouse:
                return
            for code in ("1000", "1002", "1015", "1006"):  # no 1003: any-motion
                self.write(f"\x1b[?{code}h")
            self.flush()

        def _disable_mouse_support(self) -> None:
            if not self._mouse:
                return
            for code in ("1000", "1002", "1003", "1015", "1006"):
                self.write(f"\x1b[?{code}l")
            self.flush()

    return QuietMouseDriver
