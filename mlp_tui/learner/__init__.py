"""Debug a network the learner wrote: their file or objects, opened as a ``Session``.

UI-free like ``session``: the app and the CLI open what ``open_file`` and ``from_objects``
return exactly as they open a scenario's ``Built``.
"""

from mlp_tui.learner.source import LearnerBuilt, LearnerError, from_objects, open_file

__all__ = ["LearnerBuilt", "LearnerError", "from_objects", "open_file"]
