"""What every API response shares: money as exact decimal strings, never floats."""

from decimal import Decimal

from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class ExactDecimalEncoder(JSONEncoder):
    def default(self, obj: object) -> object:
        if isinstance(obj, Decimal):
            return format(obj, "f")  # str() writes small amounts as 5.0E-7, and zero to 8 places as 0E-8
        return super().default(obj)


class ExactJSONRenderer(JSONRenderer):
    encoder_class = ExactDecimalEncoder
