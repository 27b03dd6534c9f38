"""What an execution mode is: a rule that turns the buffered chunks into targets at time ``t``.

The smoother owns the buffer (ordering, validation, expiry, counters); a mode only decides how
chunks that cover ``t`` are combined. Modes are stateful where the rule needs history (the
chunk being executed, when a chunk arrived), and are reset together with the smoother.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from egoscale_ros.chunking.chunk import ActionChunk
from egoscale_ros.chunking.targets import Targets


@dataclass(frozen=True)
class BufferedChunk:
    """A chunk and the time it reached the smoother (its inference latency is arrival − stamp)."""

    chunk: ActionChunk
    arrival: float


class ExecutionMode(ABC):
    """Strategy interface; ``buffer`` is always ordered oldest → newest stamp."""

    name: str = "mode"

    def on_chunk(self, new: BufferedChunk, buffer: Sequence[BufferedChunk]) -> None:  # noqa: B027 - optional hook
        """Called after ``new`` was appended to ``buffer`` (``buffer[-1] is new``)."""

    @abstractmethod
    def sample(self, buffer: Sequence[BufferedChunk], t: float) -> Targets | None:
        """Targets at ``t``, or None when no chunk covers ``t`` (the smoother then holds)."""

    def obsolete(self, buffer: Sequence[BufferedChunk], t: float) -> list[BufferedChunk]:
        """Chunks that can no longer influence any time >= ``t`` (beyond the fully past ones)."""
        return []

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget history (after an e-stop, or when the policy restarts)."""
