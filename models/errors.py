"""The one error of the ``models`` layer: a model file that cannot be read, parsed or converted.

``models/`` sits below the core: it reads and writes model files and imports nothing from ``attendance``.
The core turns ``ModelFileError`` into its own ``ModelError`` where it calls in
(``attendance.model_files.as_model_error``).
"""


class ModelFileError(ValueError):
    """A model file (or the manifest) cannot be read, parsed or converted; the message says which and why."""
