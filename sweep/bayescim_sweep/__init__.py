"""Design-space sweeps of the bayescim simulator on Dask distributed (see README.md, "Sweeps")."""

__version__ = "1.0"
