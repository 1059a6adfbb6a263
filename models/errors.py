"""Errors raised for drawings a person sent; messages are meant for that person."""


class DrawingError(ValueError):
    """Base class: the drawing cannot be used."""


class InvalidImageError(DrawingError):
    """Not a decodable PNG/image, too large, or a decompression bomb."""


class BlankDrawingError(DrawingError):
    """The image holds no ink."""



class TooManyCharactersError(DrawingError):
    """More characters on the number pad than a number may have."""
