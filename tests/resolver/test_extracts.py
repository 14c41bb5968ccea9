"""Loading extracts: any column order and extra columns, soft deletes, and readable refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver import ExtractError, load_profile
from resolver.extracts import normalised_frame, read_extract

SUPPLIER = load_profile().entity_types["supplier"]
HEADER = (
    "A2_FILIAL,A2_COD,A2_LOJA,A2_NOME,A2_NREDUZ,A2_END,A2_MUN,A2_EST,A2_CEP,A2_TIPO,A2_CGC,"
    "A2_TEL,A2_EMAIL,A2_PAIS,A2_MSBLQL"
)


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "SA2010.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_extra_columns_any_order_and_soft_deletes(tmp_path: Path) -> None:
    cols = HEADER.split(",")
    header = ",".join(["EXTRA", "D_E_L_E_T_", "R_E_C_N_O_", *reversed(cols)])

    def row(extra: str, deleted: str, recno: int, cod: str, name: str) -> str:
        values = dict.fromkeys(cols, "")
        values.update(A2_COD=cod, A2_LOJA="01", A2_NOME=name, A2_CGC="11.222.333/0001-81")
        return ",".join([extra, deleted, str(recno), *(values[c] for c in reversed(cols))])

    text = "\n".join(
        [
            header,
            row("x", "", 1, "000001", "Souza Ltda"),
            row("y", "*", 2, "000002", "Deleted Ltda"),
            row("z", "", 3, "000003", "  Padded Name   "),
        ]
    )
    frame = normalised_frame(read_extract(_write(tmp_path, text), SUPPLIER), SUPPLIER)
    assert frame["unique_id"].tolist() == ["SA2::000001:01", "SA2::000003:01"]
    assert frame["name"].tolist() == ["souza", "padded name"]
    assert frame["tax_id"].tolist() == ["11222333000181"] * 2
    assert frame["tax_root"].tolist() == ["11222333"] * 2


def test_missing_key_column_names_file_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER.replace("A2_LOJA,", "") + "\n")
    with pytest.raises(ExtractError, match=r"SA2010\.csv: missing key column A2_LOJA"):
        read_extract(path, SUPPLIER)


def test_profile_column_absent_from_file(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER.replace(",A2_EMAIL", "") + "\n")
    with pytest.raises(ExtractError, match="names column A2_EMAIL, absent from the file"):
        read_extract(path, SUPPLIER)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "\n,000001,01,Indústria,,,,,,,,,,,\n", encoding="latin-1")
    with pytest.raises(ExtractError, match="not UTF-8"):
        read_extract(path, SUPPLIER)


def test_malformed_and_empty_csv(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + '\n,000001,01,"unterminated,,,,,,,,,,,,\n')
    with pytest.raises(ExtractError, match="malformed CSV"):
        read_extract(path, SUPPLIER)
    empty = _write(tmp_path, "")
    with pytest.raises(ExtractError, match="empty file"):
        read_extract(empty, SUPPLIER)
