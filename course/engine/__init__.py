"""The engine: data, models, losses, optimizers, the compiled training run and sweeps.

``data`` generates every data set offline; ``models`` are pure functions over parameter
pytrees with a masked width; ``losses`` and ``optim`` are what a run minimises and how;
``train`` compiles one run into a ``lax.scan``; ``sweep`` vmaps it over a grid and shards
it over a device mesh; ``runtime`` sets up devices and the compile cache; ``checks``
holds the argument checks every public function uses.
"""
