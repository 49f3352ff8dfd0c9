"""ganbench: which GAN training tricks really help."""

__version__ = "0.1.0"
