"""leadpool: the platform's lead pool, its exclusive ownership and its pre-send gate."""

__version__ = "0.1.0"
