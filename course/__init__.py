"""Deep Learning at Scale: the numerics, data, widgets and plots behind the course notebooks.

Importing the package asks XLA for one CPU device per core (see
:mod:`course.engine.runtime`), so sweeps shard over every core of the machine.
"""

from course.engine.runtime import configure_compilation_cache, configure_host_devices

configure_host_devices()
configure_compilation_cache()

__version__ = "0.1.0"
__all__ = ["__version__"]
