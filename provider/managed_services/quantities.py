"""Kubernetes quantities: the strict forms we accept from users, and every form the apiserver returns.

Users write sizes the one way we document (`10Gi`, `500m`, `0.5`, `512Mi`) so that a value
compares equal to what we stored. The apiserver, however, hands back whatever canonical
form it chose (`2Gi`, `2147483648`, `1G`, `500m`, `1`), so comparing a live object goes
through `parse_quantity`, which reads the full Kubernetes grammar exactly (as a Fraction).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

KI = 1024
MI = 1024**2
GI = 1024**3
TI = 1024**4

_BINARY = {"Ki": KI, "Mi": MI, "Gi": GI, "Ti": TI, "Pi": 1024**5, "Ei": 1024**6}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}

# What a user may write. Sizes are whole binary units so they round-trip through format_bytes.
STORAGE_PATTERN = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
MEMORY_PATTERN = re.compile(r"^[1-9][0-9]*(Mi|Gi|Ti)$")
CPU_PATTERN = re.compile(r"^(?:[1-9][0-9]*m|[0-9]+(?:\.[0-9]{1,3})?)$")

# The full grammar of resource.Quantity (k8s.io/apimachinery/pkg/api/resource).
_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)


def parse_storage(text: str) -> int:
    """Bytes in a volume size we accept: a positive whole number of Mi, Gi or Ti (`10Gi`).

    Raises ValueError for anything else, including forms Kubernetes itself would take (`10G`).
    """
    if not STORAGE_PATTERN.match(text):
        raise ValueError(f"{text!r} is not a size like 512Mi, 10Gi or 1Ti")
    return int(text[:-2]) * _BINARY[text[-2:]]


def parse_memory(text: str) -> int:
    """Bytes in a memory amount we accept: a positive whole number of Mi, Gi or Ti (`256Mi`)."""
    if not MEMORY_PATTERN.match(text):
        raise ValueError(f"{text!r} is not a memory amount like 256Mi or 1Gi")
    return int(text[:-2]) * _BINARY[text[-2:]]


def parse_cpu(text: str) -> int:
    """Millicores in a CPU amount we accept: `500m`, `0.5`, `2` (at most 3 decimals).

    Zero parses (to 0); whether zero is allowed is a validation rule, not a syntax one.
    """
    if not CPU_PATTERN.match(text):
        raise ValueError(f"{text!r} is not a CPU amount like 500m, 0.5 or 2")
    if text.endswith("m"):
        return int(text[:-1])
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def parse_quantity(text: str) -> Fraction:
    """The exact value of any Kubernetes quantity (`2Gi`, `2147483648`, `1G`, `500m`, `1e3`)."""
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    value = Fraction(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        value *= _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= _DECIMAL[suffix]
    else:  # decimal exponent, e.g. 1e3
        value *= Fraction(10) ** int(suffix[1:])
    return -value if match["sign"] == "-" else value


def quantity_bytes(text: str) -> int:
    """Bytes in any Kubernetes quantity, rounded up the way the apiserver rounds (`1G` -> 10**9)."""
    return math.ceil(parse_quantity(text))


def quantity_millicores(text: str) -> int:
    """Millicores in any Kubernetes CPU quantity, rounded up (`1` -> 1000, `0.0001` -> 1)."""
    return math.ceil(parse_quantity(text) * 1000)


def format_bytes(value: int) -> str:
    """The canonical text for a byte count: the largest binary unit that divides it exactly.

    `2147483648` -> `2Gi`, `1536 * MI` -> `1536Mi`, `1000` -> `1000`.
    """
    if value < 0:
        raise ValueError("byte counts are never negative")
    for suffix, unit in (("Ti", TI), ("Gi", GI), ("Mi", MI), ("Ki", KI)):
        if value and value % unit == 0:
            return f"{value // unit}{suffix}"
    return str(value)


def format_cpu(millicores: int) -> str:
    """The canonical text for a CPU amount: whole cores as `2`, anything else as `500m`."""
    if millicores < 0:
        raise ValueError("CPU amounts are never negative")
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def canonical_storage(text: str) -> str:
    """The canonical form of an accepted volume size (`2048Mi` -> `2Gi`); ValueError if not accepted."""
    return format_bytes(parse_storage(text))


def canonical_memory(text: str) -> str:
    """The canonical form of an accepted memory amount (`1024Mi` -> `1Gi`)."""
    return format_bytes(parse_memory(text))


def canonical_cpu(text: str) -> str:
    """The canonical form of an accepted CPU amount (`0.5` -> `500m`, `1000m` -> `1`)."""
    return format_cpu(parse_cpu(text))
