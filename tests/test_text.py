"""The printed-output helpers: what a student reads instead of NumPy reprs."""

from __future__ import annotations

import numpy as np
import pytest

from course.ui.text import number, table


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (np.float32(508.30002), 3, "508"),  # no float32 artefacts
        (np.float32(106.03), 3, "106"),
        (318.75, 3, "319"),  # a mean step count reads as a step
        (0.12345, 3, "0.123"),
        (-0.0, 3, "0"),  # never "-0"
        (-0.0004, 1, "-0.0004"),  # a real negative stays negative
        (np.round(-1e-9, 3), 3, "0"),
        (1200, 3, "1200"),  # whole numbers stay whole
        (1234.56, 3, "1235"),  # not 1.23e+03
        (2.5e-7, 2, "2.5e-07"),
        (float("nan"), 3, "nan"),
        (True, 3, "True"),
    ],
)
def test_number_reads_like_a_person_wrote_it(value, digits, expected):
    assert number(value, digits) == expected


def test_number_carries_its_unit_and_rejects_bad_digits():
    assert number(127.647, unit="ms") == "128 ms"
    assert number(27.5, unit="%") == "27.5%"
    with pytest.raises(ValueError, match="digits must be a whole number ≥ 1, got 0"):
        number(1.0, 0)


def test_table_aligns_text_left_and_numbers_right():
    out = table([["batch 1", 194.84, np.float32(20.11)], ["batch 100", 16.95, 16.9]],
                ["", "equal steps", "equal examples"])  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "           equal steps  equal examples"
    assert lines[1] == "batch 1            195            20.1"
    assert lines[2] == "batch 100         16.9            16.9"
    assert len({len(line) for line in lines}) == 1  # one width: the columns line up
    with pytest.raises(ValueError, match="same length"):
        table([[1, 2], [3]])


def test_numbers_writes_a_list_as_number_does_each_value():
    from course.ui.text import numbers

    values = np.array([np.float32(508.30002), -0.0, 0.123456, 3.0])
    assert numbers(values) == "508, 0, 0.123, 3"
    assert numbers(values, 5, unit="ms") == "508.3, 0, 0.12346, 3 ms"
    assert numbers([[1.5, 2.25]], 2) == "1.5, 2.2"  # any shape, read in order
