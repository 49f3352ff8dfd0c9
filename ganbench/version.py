"""ganbench's version, in a module of its own: the package's __init__ is the public API's
lazy front door, which modules inside the package do not import."""

__version__ = "0.1.0"
