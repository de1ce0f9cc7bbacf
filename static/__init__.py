"""The browser tracker (`footfall.js`, built to `footfall.min.js`) and the demo page: package data, read with
`importlib.resources` so that a regular install serves them as a checkout does."""

from importlib.resources import files


def read(name: str) -> bytes:
    """One of the files served (`footfall.min.js`, `demo.html`), from wherever the package is installed."""
    return files(__name__).joinpath(name).read_bytes()
