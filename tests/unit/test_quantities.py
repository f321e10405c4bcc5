from __future__ import annotations

from fractions import Fraction

import pytest

from managed_services import quantities as q


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1Mi", 2**20), ("512Mi", 512 * 2**20), ("10Gi", 10 * 2**30), ("2Ti", 2 * 2**40), ("2048Mi", 2 * 2**30)],
)
def test_parse_storage(text: str, expected: int) -> None:
    assert q.parse_storage(text) == expected


@pytest.mark.parametrize("text", ["", "0Gi", "01Gi", "1G", "1.5Gi", "1gi", "-1Gi", "1Ki", "Gi", " 1Gi", "1Gi "])
def test_parse_storage_rejects_forms_we_do_not_accept(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        q.parse_storage(text)


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("500m", 500),
        ("1m", 1),
        ("0.5", 500),
        ("2", 2000),
        ("1.25", 1250),
        ("0.001", 1),
        ("0", 0),
        ("64", 64000),
    ],
)
def test_parse_cpu(text: str, millicores: int) -> None:
    assert q.parse_cpu(text) == millicores


@pytest.mark.parametrize("text", ["0.0005", "500M", "1.5m", "m", "", "-1", "1e3", "0m"])
def test_parse_cpu_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        q.parse_cpu(text)


def test_parse_memory() -> None:
    assert q.parse_memory("256Mi") == 256 * 2**20
    assert q.parse_memory("1Gi") == 2**30
    with pytest.raises(ValueError):
        q.parse_memory("256M")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2147483648, "2Gi"),
        (1536 * 2**20, "1536Mi"),
        (2**40, "1Ti"),
        (3 * 2**40, "3Ti"),
        (1000, "1000"),
        (2048, "2Ki"),
        (0, "0"),
    ],
)
def test_format_bytes(value: int, text: str) -> None:
    assert q.format_bytes(value) == text


def test_format_cpu_and_canonical_forms() -> None:
    assert q.format_cpu(500) == "500m"
    assert q.format_cpu(2000) == "2"
    assert q.canonical_cpu("0.5") == "500m"
    assert q.canonical_cpu("1000m") == "1"
    assert q.canonical_storage("2048Mi") == "2Gi"
    assert q.canonical_memory("1024Mi") == "1Gi"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2Gi", Fraction(2 * 2**30)),
        ("2147483648", Fraction(2147483648)),
        ("1G", Fraction(10**9)),
        ("500m", Fraction(1, 2)),
        ("1", Fraction(1)),
        ("1.5", Fraction(3, 2)),
        ("1e3", Fraction(1000)),
        ("1E-3", Fraction(1, 1000)),
        ("100k", Fraction(100_000)),
        ("250u", Fraction(1, 4000)),
        (".5", Fraction(1, 2)),
        ("-1Ki", Fraction(-1024)),
    ],
)
def test_parse_quantity_reads_every_apiserver_form(text: str, value: Fraction) -> None:
    assert q.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "1 Gi", "Gi", "1GiB", "1.2.3", "abc"])
def test_parse_quantity_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        q.parse_quantity(text)


def test_live_values_compare_with_what_we_asked_for() -> None:
    # The apiserver may return 2Gi as "2Gi" or as a plain byte count; cpu 0.5 as "500m".
    assert q.quantity_bytes("2147483648") == q.parse_storage("2Gi")
    assert q.quantity_bytes("1G") == 10**9
    assert q.quantity_millicores("500m") == q.parse_cpu("0.5")
    assert q.quantity_millicores("1") == 1000
    assert q.quantity_millicores("100u") == 1  # rounded up, as Kubernetes does
