"""csv_text.encode_rows against csv.writer itself, on thousands of awkward rows."""

import csv
import io
import random

import pytest

from csv_text import encode_rows

PIECES = ["a", "Z", "0", ",", '"', "\r", "\n", " ", "\t", ";", "'", "\\", "\x00",
          "é", "😀", "\u2028", "ש"]  # fmt: skip
NUMBERS = [0, -1, 2**63 - 1, -(2**70), 0.1 + 0.2, 4.0, -0.0, 1e-7, 1e22, 1e16,
           2.5e-300, float("inf"), float("-inf"), float("nan")]  # fmt: skip


def written_by_csv(rows) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def awkward_value(chance: random.Random):
    kind = chance.randrange(6)
    if kind == 0:
        return None
    if kind == 1:
        return chance.choice(NUMBERS)
    if kind == 2:
        return ""
    return "".join(chance.choices(PIECES, k=chance.randrange(1, 10)))


@pytest.mark.parametrize("seed", range(5))
def test_every_row_is_written_as_csv_writer_writes_it(seed):
    chance = random.Random(seed)
    for _ in range(1000):
        width = chance.randrange(1, 6)
        rows = [
            tuple(awkward_value(chance) for _ in range(width))
            for _ in range(chance.randrange(1, 8))
        ]
        assert encode_rows(rows) == written_by_csv(rows), rows


@pytest.mark.parametrize(
    "column",
    [
        ["plain", "text"],
        ["needs, quotes", "plain"],
        [None, None],
        [1, 2.5],
        [None, 3],
        ["", None],
        ["a", 1, None, 2.0],
    ],
)
def test_columns_of_one_kind_or_mixed(column):
    rows = [(value, "x") for value in column]
    assert encode_rows(rows) == written_by_csv(rows)


def test_bytes_are_replaced_by_the_callers_text():
    rows = [(1, b"\x00\xff"), (2, "text"), (3, b"")]

    text = encode_rows(rows, lambda row, position: f"blob {row[0]}/{position}, here")

    assert text == '1,"blob 1/1, here"\r\n2,text\r\n3,"blob 3/1, here"\r\n'
    assert encode_rows([(b"\x01",)], lambda row, position: "") == '""\r\n'


def test_no_rows_is_no_text():
    assert encode_rows([]) == ""
