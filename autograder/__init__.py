"""An autograder for the eight levels of "Learning PyTorch with Examples"."""

__version__ = "0.1.0"
