"""The one error type of bad augmentation input: it names the file and, where one is involved, the topic."""

from __future__ import annotations


class AugmentInputError(ValueError):
    """A recording or option cannot be used; ``str()`` is one line naming file, topic and problem."""

    def __init__(self, source: str, problem: str, topic: str | None = None) -> None:
        self.source = source
        self.topic = topic
        self.problem = problem
        where = f"{source}" if topic is None else f"{source}, topic {topic}"
        super().__init__(f"{where}: {problem}")
