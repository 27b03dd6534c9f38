"""Emergency-stop state: latches on any trigger; only an explicit reset clears it, and only once
every trigger input is released.

Inputs are named (a hardware button topic, a software monitor...): ``update(source, pressed)``
follows a level signal such as a latched ``std_msgs/Bool``; ``trigger(reason)`` is a momentary
software stop. A pressed input re-latches at once, whether or not a reset was tried.
"""

from __future__ import annotations


class EStop:
    """Latching e-stop with named inputs."""

    def __init__(self) -> None:
        self._pressed: dict[str, bool] = {}
        self._latched = False
        self.reason = ""
        self.trips = 0

    def update(self, source: str, pressed: bool) -> None:
        """Level input ``source`` is now ``pressed`` (True) or released (False)."""
        self._pressed[source] = bool(pressed)
        if pressed:
            self._latch(f"{source} pressed")

    def trigger(self, reason: str) -> None:
        """Momentary stop (a software monitor): latches; nothing to release."""
        self._latch(reason)

    def _latch(self, reason: str) -> None:
        if not self._latched:
            self.trips += 1
            self.reason = reason
        self._latched = True

    @property
    def engaged(self) -> bool:
        """True from the first trigger until a successful :meth:`reset`."""
        return self._latched

    @property
    def pressed_inputs(self) -> list[str]:
        """Inputs still pressed (a reset is refused while any is)."""
        return sorted(s for s, p in self._pressed.items() if p)

    def reset(self) -> bool:
        """Clear the latch if no input is pressed; returns whether the e-stop is now clear."""
        if self.pressed_inputs:
            return False
        self._latched = False
        self.reason = ""
        return True
