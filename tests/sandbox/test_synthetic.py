"""The synthetic Protheus generator: layout, determinism, planted structure, truth, queries."""

from __future__ import annotations

import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from stdnum.br import cnpj, cpf
from stdnum.ch import uid

from sandbox.synthetic import SampleSummary, generate_sample, vocab
from sandbox.synthetic.csvout import write_csv
from sandbox.synthetic.files import in_background
from sandbox.synthetic.sample import _generate
from sandbox.synthetic.taxid import cnpj_check_digits, cpf_check_digits, uid_check_digit
from sandbox.synthetic.text import as_objects, typo

COMMITTED = Path(__file__).resolve().parents[2] / "data" / "samples" / "protheus"

HEADERS = {
    "SA2010": "A2_FILIAL A2_COD A2_LOJA A2_NOME A2_NREDUZ A2_END A2_MUN A2_EST A2_CEP A2_TIPO "
    "A2_CGC A2_TEL A2_EMAIL A2_PAIS A2_MSBLQL D_E_L_E_T_ R_E_C_N_O_",
    "SA1010": "A1_FILIAL A1_COD A1_LOJA A1_NOME A1_NREDUZ A1_PESSOA A1_END A1_MUN A1_EST A1_CEP "
    "A1_CGC A1_TEL A1_EMAIL A1_MSBLQL D_E_L_E_T_ R_E_C_N_O_",
    "SRA010": "RA_FILIAL RA_MAT RA_NOME RA_CIC RA_NASC RA_EMAIL RA_MUNICIP RA_ESTADO RA_SITFOLH "
    "D_E_L_E_T_ R_E_C_N_O_",
    "SU5010": "U5_FILIAL U5_CODCONT U5_CONTAT U5_EMAIL U5_FONE U5_CELULAR U5_END U5_MUN U5_EST "
    "D_E_L_E_T_ R_E_C_N_O_",
    "SC7010": "C7_FILIAL C7_NUM C7_ITEM C7_PRODUTO C7_QUANT C7_PRECO C7_TOTAL C7_FORNECE C7_LOJA "
    "C7_EMISSAO C7_CONAPRO C7_ENCER C7_MOEDA D_E_L_E_T_ R_E_C_N_O_",
}
ID_TEMPLATES = {
    "supplier": ("SA2010", "SA2:{A2_FILIAL}:{A2_COD}:{A2_LOJA}"),
    "customer": ("SA1010", "SA1:{A1_FILIAL}:{A1_COD}:{A1_LOJA}"),
    "employee": ("SRA010", "SRA:{RA_FILIAL}:{RA_MAT}"),
    "contact": ("SU5010", "SU5:{U5_FILIAL}:{U5_CODCONT}"),
}
TAX_COLUMN = {"supplier": "A2_CGC", "customer": "A1_CGC", "employee": "RA_CIC"}
MATCH_KINDS = {
    "clean_name_taxid", "typo_name_city", "abbrev_name_city", "taxid_only", "branch_with_city",
    "lookalike_with_taxid", "field_names", "customer_name_taxid", "employee_name_cpf",
    "contact_name_email", "short_name_postcode",
}  # fmt: skip
HALT_KINDS = {
    "branch_no_city", "lookalike_name_only", "person_both_roles", "taxid_contradiction",
    "unknown", "name_only_common",
}  # fmt: skip


class Sample:
    """A generated sample read back from disk, as a consumer would."""

    def __init__(self, root: Path, summary: SampleSummary) -> None:
        self.root, self.summary = root, summary
        self.tables = {
            name: pd.read_csv(
                root / "data" / f"{name}.csv", dtype=str, keep_default_na=False, encoding="utf-8"
            )
            for name in HEADERS
        }
        self.truth = pd.read_csv(root / "truth" / "entities.csv", dtype=str, keep_default_na=False)
        self.defects = pd.read_csv(root / "truth" / "defects.csv", dtype=str, keep_default_na=False)
        self.queries = _jsonl(root / "queries.jsonl")
        self.expected = {e["id"]: e for e in _jsonl(root / "expected.jsonl")}

    def frame(self, entity_type: str, live: bool = True) -> pd.DataFrame:
        """A table with its canonical ids in column `cid`, live rows only by default."""
        table, template = ID_TEMPLATES[entity_type]
        frame = self.tables[table].copy()
        frame["cid"] = [template.format(**row) for row in frame.to_dict("records")]
        return frame[frame["D_E_L_E_T_"] != "*"] if live else frame

    def defect_ids(self, defect: str) -> set[str]:
        return set(self.defects.loc[self.defects["defect"] == defect, "canonical_id"])


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum())


def _fold(value: str) -> str:
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    return " ".join(text.upper().split())


def _abbreviates(short: str, full: str) -> bool:
    """'COML' abbreviates 'COMERCIAL': same first letter, its letters in order in the word."""
    rest = iter(full)
    return short[:1] == full[:1] and all(ch in rest for ch in short)


_PHRASES = sorted(
    {
        (_fold(short), _fold(full))
        for pairs in (vocab.BR_ACTIVITIES, vocab.BR_ROLES, vocab.BR_ROLE_TAILS)
        for full, short in pairs
    },
    key=lambda pair: -len(pair[0]),
)


def _spell_out(name: str) -> str:
    for short, full in _PHRASES:
        if short != full and short in name:
            return name.replace(short, full, 1)
    return name


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    root = tmp_path_factory.mktemp("sample42")
    return Sample(root, generate_sample(root, suppliers=400, seed=42))


# -- determinism and the committed sample ---------------------------------------------------


def test_same_seed_gives_same_bytes_and_another_seed_differs(
    sample: Sample, tmp_path: Path
) -> None:
    # The second run writes its files from forked processes, as large samples do: the
    # bytes must not depend on that either.
    again, other = tmp_path / "again", tmp_path / "other"
    _generate(again, 400, 42, None, parallel=True)
    generate_sample(other, suppliers=400, seed=43)
    assert _files(again) == _files(sample.root)
    changed = {name for name, data in _files(other).items() if _files(sample.root)[name] != data}
    assert {"data/SA2010.csv", "queries.jsonl", "truth/entities.csv"} <= changed


@pytest.mark.skipif(sys.platform != "linux", reason="writers are forked on Linux only")
def test_a_failing_writer_process_is_reported() -> None:
    wait = in_background(lambda: 1 // 0, parallel=True)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        wait()


def test_committed_sample_is_a_fresh_generation(sample: Sample) -> None:
    committed = _files(COMMITTED)
    assert committed == _files(sample.root)
    assert sum(len(data) for data in committed.values()) <= 2_000_000


def test_summary_counts_what_was_written(sample: Sample) -> None:
    s = sample.summary
    for name, frame in sample.tables.items():
        assert s.rows[name] == len(frame)
        assert s.deleted_rows[name] == int((frame["D_E_L_E_T_"] == "*").sum()) > 0
    assert s.queries == len(sample.queries) == len(sample.expected)
    assert sum(s.query_kinds.values()) == s.queries
    assert all(p.exists() for p in s.paths.values())


def test_too_few_suppliers_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="suppliers"):
        generate_sample(tmp_path, suppliers=10)


# -- layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("table", sorted(HEADERS))
def test_headers_are_the_protheus_fields(sample: Sample, table: str) -> None:
    first = (sample.root / "data" / f"{table}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.split(",") == HEADERS[table].split()


def test_proportions_and_record_numbers(sample: Sample) -> None:
    rows = {name: len(frame) for name, frame in sample.tables.items()}
    assert rows["SA2010"] == 400
    assert 0.5 <= rows["SA1010"] / 400 <= 0.7
    assert 0.2 <= rows["SRA010"] / 400 <= 0.3
    assert 0.35 <= rows["SU5010"] / 400 <= 0.45
    for frame in sample.tables.values():
        assert frame["R_E_C_N_O_"].astype(int).tolist() == list(range(1, len(frame) + 1))
        assert set(frame["D_E_L_E_T_"]) == {"", "*"}


def test_codes_have_protheus_widths(sample: Sample) -> None:
    sa2, sra, sc7 = sample.tables["SA2010"], sample.tables["SRA010"], sample.tables["SC7010"]
    assert (
        sa2["A2_COD"].str.fullmatch(r"\d{6}").all() and sa2["A2_LOJA"].str.fullmatch(r"\d{2}").all()
    )
    assert (sa2["A2_FILIAL"] == "").all() and (sample.tables["SA1010"]["A1_FILIAL"] == "").all()
    assert (
        set(sra["RA_FILIAL"]) == {"01", "02", "03"} and sra["RA_MAT"].str.fullmatch(r"\d{6}").all()
    )
    assert sra["RA_NASC"].str.fullmatch(r"(19[6-9]\d|200\d)\d{4}").all()
    assert (
        sc7["C7_NUM"].str.fullmatch(r"\d{6}").all() and sc7["C7_ITEM"].str.fullmatch(r"\d{4}").all()
    )


@pytest.mark.parametrize("entity_type", sorted(ID_TEMPLATES))
def test_canonical_ids_are_unique_among_live_rows(sample: Sample, entity_type: str) -> None:
    live = sample.frame(entity_type)
    assert live["cid"].is_unique
    truth = sample.truth[sample.truth["entity_type"] == entity_type]
    assert sorted(truth.loc[truth["deleted"] == "0", "canonical_id"]) == sorted(live["cid"])
    assert len(truth) == len(sample.frame(entity_type, live=False))


def test_soft_deleted_rows_include_stale_copies_of_live_records(sample: Sample) -> None:
    frame = sample.frame("supplier", live=False)
    deleted = frame[frame["D_E_L_E_T_"] == "*"]
    live_ids = set(frame.loc[frame["D_E_L_E_T_"] != "*", "cid"])
    assert deleted["cid"].isin(live_ids).any()
    assert not deleted["cid"].isin(live_ids).all()
    stale = sample.truth[sample.truth["role"] == "stale_copy"]
    assert (stale["deleted"] == "1").all() and len(stale) > 0


# -- tax ids ----------------------------------------------------------------------------------


def _valid(value: str) -> bool:
    if value.startswith("CHE"):
        return bool(uid.is_valid(value))
    digits = _digits(value)
    return bool(cnpj.is_valid(digits) if len(digits) == 14 else cpf.is_valid(digits))


@pytest.mark.parametrize("entity_type", ["supplier", "customer", "employee"])
def test_check_digits_are_valid_except_planted_defects(sample: Sample, entity_type: str) -> None:
    frame = sample.frame(entity_type, live=False)
    frame = frame[frame[TAX_COLUMN[entity_type]] != ""]
    invalid = frame[~frame[TAX_COLUMN[entity_type]].map(_valid)]
    assert (invalid["D_E_L_E_T_"] == "").all()
    planted = sample.defect_ids("invalid_check_digits")
    assert set(invalid["cid"]) == {
        c for c in planted if c.startswith(ID_TEMPLATES[entity_type][1][:3])
    }
    if entity_type != "employee":
        assert planted and len(invalid) / len(frame) < 0.03


def test_tax_ids_are_written_punctuated_and_raw(sample: Sample) -> None:
    cgc = sample.tables["SA2010"]["A2_CGC"]
    punctuated = cgc.str.contains(r"[./-]") & ~cgc.str.startswith("CHE")
    assert 0.3 <= punctuated.sum() / (cgc != "").sum() <= 0.5
    kinds = Counter(sample.tables["SA2010"]["A2_TIPO"])
    assert kinds["J"] > kinds["F"] > 0 and kinds["X"] > 0
    assert (
        cgc[sample.tables["SA2010"]["A2_TIPO"] == "F"]
        .map(lambda v: len(_digits(v)) in (0, 11))
        .all()
    )


def test_branches_share_the_cnpj_root_with_their_own_branch_numbers(sample: Sample) -> None:
    frame = sample.frame("supplier")
    frame = frame[(frame["A2_TIPO"] == "J") & (frame["A2_CGC"] != "")]
    mismatched = sample.defect_ids("branch_cnpj_root_mismatch")
    groups = [g for _, g in frame.groupby("A2_COD") if len(g) > 1]
    assert len(groups) >= 5
    for group in groups:
        digits = group["A2_CGC"].map(_digits)
        head = digits[group["A2_LOJA"] == "01"]
        normal = ~group["cid"].isin(mismatched)
        assert digits[normal].str[:8].nunique() == 1
        assert digits.str[8:12].is_unique
        assert group["A2_MUN"].map(_fold).is_unique
        if len(head):
            assert digits[normal].str[:8].iloc[0] == head.iloc[0][:8]
    assert mismatched


def test_check_digits_match_stdnum_for_random_numbers() -> None:
    rng = np.random.default_rng(0)
    roots, branches, bases = (
        rng.integers(0, 10**8, 500),
        rng.integers(1, 10**4, 500),
        rng.integers(1, 10**9, 500),
    )
    cnpj_dv = cnpj_check_digits(roots, branches)
    cpf_dv = cpf_check_digits(bases)
    for r, b, d in zip(roots.tolist(), branches.tolist(), cnpj_dv.tolist(), strict=True):
        assert cnpj.calc_check_digits(f"{r:08d}{b:04d}") == f"{d:02d}"
    for base, d in zip(bases.tolist(), cpf_dv.tolist(), strict=True):
        assert cpf.is_valid(f"{base:09d}{d:02d}")
    for base, d in zip(
        bases[:200].tolist(), uid_check_digit(bases[:200] % 10**8).tolist(), strict=True
    ):
        if d != 10:
            assert uid.calc_check_digit(f"{base % 10**8:08d}") == str(d)


# -- planted structure ------------------------------------------------------------------------


def test_roles_and_entities_tie_records_together(sample: Sample) -> None:
    truth = sample.truth
    roles = Counter(truth["role"])
    for role in ("original", "legacy_duplicate", "branch", "lookalike", "person_both_roles",
                 "common_name", "stale_copy", "also_customer", "also_supplier"):  # fmt: skip
        assert roles[role] > 0, role
    keyed_first = truth["role"].isin(["original", "also_customer", "common_name"])
    originals = set(truth.loc[keyed_first, "entity_id"])
    assert set(truth.loc[truth["role"] == "legacy_duplicate", "entity_id"]) <= originals
    both = truth[truth["role"] == "person_both_roles"].groupby("entity_id")["entity_type"].agg(set)
    assert (both == {"employee", "contact"}).all()
    sa2 = sample.frame("supplier").merge(truth, left_on="cid", right_on="canonical_id")
    sa2 = sa2[sa2["deleted"] == "0"]
    dups = sa2[sa2["role"] == "legacy_duplicate"]
    assert 0.03 <= len(dups) / len(sa2) <= 0.07
    assert (dups["A2_MSBLQL"] == "1").mean() > 0.3
    assert 0.05 <= (sa2["role"] == "branch").mean() <= 0.11


def test_noise_looks_like_a_real_master(sample: Sample) -> None:
    sa2 = sample.tables["SA2010"]
    names = sa2["A2_NOME"]
    assert names.str.isupper().mean() > 0.3 and (~names.str.isupper()).mean() > 0.3
    assert names.str.contains("[À-ÿ]").any() and names.str.contains("LTDA|Ltda").any()
    forms = ("LTDA", "Ltda.", "S.A.", "S/A", "ME", "EPP", "EIRELI", "AG", "GmbH", "Inc")
    legal = {form for form in forms if names.str.contains(form, regex=False).any()}
    assert len(legal) >= 7
    assert (sa2["A2_NREDUZ"].str.len() <= 20).all() and (
        sa2["A2_NREDUZ"] == sa2["A2_NREDUZ"].str.upper()
    ).all()
    assert (
        sa2["A2_CEP"].str.fullmatch(r"\d{5}-\d{3}").any()
        and sa2["A2_CEP"].str.fullmatch(r"\d{8}").any()
    )
    for column in ("A2_EMAIL", "A2_TEL", "A2_END", "A2_CEP"):
        assert 0.03 <= (sa2[column] == "").mean() <= 0.25, column
    cities = set(sa2["A2_MUN"])
    assert {"São Paulo", "SAO PAULO"} <= cities or {"Sao Paulo", "SÃO PAULO"} & cities


def test_planted_defects_are_recorded_and_true(sample: Sample) -> None:
    defects = Counter(sample.defects["defect"])
    for defect in ("invalid_check_digits", "blank_contact_data", "conflict_of_interest_cpf",
                   "conflict_of_interest_email", "open_po_blocked_supplier", "po_missing_supplier",
                   "branch_cnpj_root_mismatch"):  # fmt: skip
        assert defects[defect] > 0, defect
    sa2 = sample.frame("supplier").set_index("cid")
    sra = sample.frame("employee").set_index("cid")
    for row in sample.defects[sample.defects["defect"] == "conflict_of_interest_cpf"].itertuples():
        if row.entity_type == "employee":
            assert _digits(sra.loc[row.canonical_id, "RA_CIC"]) == _digits(
                sa2.loc[row.related_id, "A2_CGC"]
            )
    for row in sample.defects[
        sample.defects["defect"] == "conflict_of_interest_email"
    ].itertuples():
        if row.entity_type == "employee":
            assert (
                sra.loc[row.canonical_id, "RA_EMAIL"] == sa2.loc[row.related_id, "A2_EMAIL"] != ""
            )
    su5 = sample.frame("contact").set_index("cid")
    blank = su5.loc[
        list(sample.defect_ids("blank_contact_data")), ["U5_EMAIL", "U5_FONE", "U5_CELULAR"]
    ]
    assert (blank == "").all().all()


def test_purchase_orders_point_at_suppliers(sample: Sample) -> None:
    sc7 = sample.tables["SC7010"]
    sc7 = sc7[sc7["D_E_L_E_T_"] != "*"]
    sa2 = sample.frame("supplier")
    keys = set(zip(sa2["A2_COD"], sa2["A2_LOJA"], strict=True))
    pointed = list(zip(sc7["C7_FORNECE"], sc7["C7_LOJA"], strict=True))
    missing = [k for k in pointed if k not in keys]
    assert 0 < len(missing) < 0.02 * len(pointed)
    blocked = set(
        zip(*[sa2.loc[sa2["A2_MSBLQL"] == "1", c] for c in ("A2_COD", "A2_LOJA")], strict=True)
    )
    open_blocked = sc7[
        np.array([k in blocked for k in pointed]) & (sc7["C7_ENCER"] == "").to_numpy()
    ]
    assert len(open_blocked) > 0
    totals = sc7["C7_QUANT"].astype(float) * sc7["C7_PRECO"].astype(float)
    assert np.allclose(totals, sc7["C7_TOTAL"].astype(float), atol=0.01)
    assert 1.3 <= len(sc7) / sc7[["C7_FILIAL", "C7_NUM"]].drop_duplicates().shape[0] <= 2.2


# -- queries and expectations -----------------------------------------------------------------


def test_every_query_kind_is_present(sample: Sample) -> None:
    kinds = Counter(e["kind"] for e in sample.expected.values())
    assert set(kinds) == MATCH_KINDS | HALT_KINDS
    assert len(sample.queries) == 300
    for e in sample.expected.values():
        assert e["expected"] == ("match" if e["kind"] in MATCH_KINDS else "halt")
    untyped = [q for q in sample.queries if q["entity_type"] is None]
    matches = [q for q in sample.queries if sample.expected[q["id"]]["expected"] == "match"]
    assert 0.1 <= sum(q["entity_type"] is None for q in matches) / len(matches) <= 0.3
    assert untyped


def test_expected_ids_exist_and_are_live(sample: Sample) -> None:
    live = {t: set(sample.frame(t)["cid"]) for t in ID_TEMPLATES}
    every = set().union(*live.values())
    for query in sample.queries:
        expected = sample.expected[query["id"]]
        ids = expected["canonical_ids"]
        assert ids == sorted(set(ids))
        assert set(ids) <= every, query
        if expected["expected"] == "match":
            etype = query["entity_type"] or next(t for t in live if ids[0] in live[t])
            assert ids and set(ids) <= live[etype], query
        elif expected["kind"] != "unknown":
            assert len(ids) >= 2, query


def _query_digits(record: dict[str, str]) -> str:
    return _digits(record.get("tax_id") or record.get("A2_CGC", ""))


def test_tax_id_and_email_queries_point_only_at_their_expectation(sample: Sample) -> None:
    by_tax: dict[str, set[tuple[str, str]]] = {}
    by_email: dict[str, set[tuple[str, str]]] = {}
    for etype in ID_TEMPLATES:
        frame = sample.frame(etype)
        if etype in TAX_COLUMN:
            for cid, value in zip(frame["cid"], frame[TAX_COLUMN[etype]], strict=True):
                by_tax.setdefault(_digits(value), set()).add((etype, cid))
        email = {
            "supplier": "A2_EMAIL",
            "customer": "A1_EMAIL",
            "employee": "RA_EMAIL",
            "contact": "U5_EMAIL",
        }[etype]
        for cid, value in zip(frame["cid"], frame[email], strict=True):
            by_email.setdefault(value.lower(), set()).add((etype, cid))
    checked = 0
    for query in sample.queries:
        expected = sample.expected[query["id"]]
        if expected["expected"] != "match":
            continue
        record, etype = query["record"], query["entity_type"]
        holders = by_tax.get(_query_digits(record)) if _query_digits(record) else None
        if holders is None and "email" in record:
            holders = by_email.get(record["email"].lower())
        if holders is None:
            continue
        checked += 1
        reachable = {cid for t, cid in holders if etype in (None, t)}
        assert reachable and reachable <= set(expected["canonical_ids"]), query
    assert checked > 100


def test_name_and_city_queries_target_a_record_in_that_city(sample: Sample) -> None:
    frames = {t: sample.frame(t).set_index("cid") for t in ("supplier",)}
    for query in sample.queries:
        expected = sample.expected[query["id"]]
        if expected["kind"] not in {"typo_name_city", "abbrev_name_city", "branch_with_city"}:
            continue
        asked = _fold(query["record"]["name"])
        rows = frames["supplier"].loc[expected["canonical_ids"]]
        assert (rows["A2_MUN"].map(_fold) == _fold(query["record"]["city"])).all()
        names = rows["A2_NOME"].map(_fold)
        if expected["kind"] == "abbrev_name_city":
            # 'IND. ESTRELA' for 'Indústria Estrela': the first word is kept or cut short.
            first = asked.split(" ")[0].rstrip(".")
            assert any(_abbreviates(first, n.split(" ")[0]) for n in names), query
        else:
            # Some masters abbreviate on first entry: compare with the phrases spelt out.
            spelt = [_spell_out(n) for n in names]
            similar = max(
                max(fuzz.ratio(n, asked), fuzz.partial_ratio(n, asked)) for n in [*names, *spelt]
            )
            assert similar >= 80, (query, list(names))
    sa2 = sample.frame("supplier")
    for query in sample.queries:
        expected = sample.expected[query["id"]]
        if expected["kind"] == "branch_no_city":
            assert sa2.loc[sa2["cid"].isin(expected["canonical_ids"]), "A2_COD"].nunique() >= 1
            names = sa2.loc[sa2["cid"].isin(expected["canonical_ids"]), "A2_NOME"].map(_fold)
            assert names.nunique() == 1


def test_unknown_companies_are_in_no_table(sample: Sample) -> None:
    names = {
        _fold(n)
        for n in pd.concat([sample.tables["SA2010"]["A2_NOME"], sample.tables["SA1010"]["A1_NOME"]])
    }
    taxes = {
        _digits(v)
        for v in pd.concat([sample.tables["SA2010"]["A2_CGC"], sample.tables["SA1010"]["A1_CGC"]])
    }
    unknown = [q for q in sample.queries if sample.expected[q["id"]]["kind"] == "unknown"]
    assert unknown
    for query in unknown:
        assert _fold(query["record"]["name"]) not in names
        if "tax_id" in query["record"]:
            assert (
                _valid(query["record"]["tax_id"])
                and _digits(query["record"]["tax_id"]) not in taxes
            )


def test_field_name_queries_use_protheus_fields(sample: Sample) -> None:
    field_queries = [q for q in sample.queries if sample.expected[q["id"]]["kind"] == "field_names"]
    assert field_queries and all(q["entity_type"] == "supplier" for q in field_queries)
    assert all(set(q["record"]) <= {"A2_NOME", "A2_CGC", "A2_MUN"} for q in field_queries)


# -- helpers ----------------------------------------------------------------------------------

_CELL = st.text(alphabet=st.sampled_from(list('ab ,"\nçÃ\r;-')), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_CELL, _CELL, _CELL), min_size=1, max_size=6))
def test_csv_output_is_byte_identical_to_pandas(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]]
) -> None:
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    columns = {name: as_objects([r[i] for r in rows]) for i, name in enumerate(("A", "B,C", "D"))}
    write_csv(path, columns)
    expected = pd.DataFrame({k: list(v) for k, v in columns.items()}, dtype=object).to_csv(
        index=False, lineterminator="\n"
    )
    assert path.read_bytes() == expected.encode("utf-8")


_LETTERS = st.characters(categories=("Lu", "Ll"), max_codepoint=0x24F)


@given(
    st.text(alphabet=_LETTERS, min_size=2, max_size=30),
    st.integers(0, 2**32 - 1),
    st.integers(1, 2),
)
def test_typos_change_the_text_but_not_its_first_letter(text: str, seed: int, edits: int) -> None:
    out = typo(text, np.random.default_rng(seed), edits)
    assert out != text and out[0] == text[0]
