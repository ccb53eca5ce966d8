"""engmetrics: metrics-as-code for engineering organisations."""

__version__ = "0.1.0"
__all__ = ["__version__"]
