"""Free-text mentions against structured queries: does a sentence resolve as its record does?

    python benchmarks/accuracy/mentions.py WORKDIR SAMPLE_DIR [--seed 5]

For every supplier query of a `canon sample` folder whose record gives only roles a sentence can
carry (name, tax id, city, postcode, phone, e-mail, as roles or Protheus fields), it writes the
record as a sentence in pt-BR, de, fr or en (seeded choice of a fixed template per language),
resolves both with the workdir's model, and tallies the outcome of each against expected.jsonl:
right, wrong or halted. The templates are this script's, so the number measures the parser on
such sentences, not on what agents write in the wild. Benchmarks measure; they assert nothing.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from resolver import Decision, Resolution, ResolveQuery, load_resolver

FIELDS = {"A2_NOME": "name", "A2_CGC": "tax_id", "A2_MUN": "city", "A2_CEP": "postcode",
          "A2_TEL": "phone", "A2_EMAIL": "email"}  # fmt: skip
ROLES = ("tax_id", "city", "postcode", "phone", "email")
TEMPLATES = {
    "pt-BR": ("Bloquear o fornecedor {}", ", CNPJ {}", ", em {}", ", CEP {}", ", tel {}",
              ", e-mail {}"),
    "de": ("Bitte den Lieferanten {} sperren", ", UID {}", ", in {}", ", PLZ {}", ", Tel. {}",
           ", E-Mail {}"),
    "fr": ("Le fournisseur {}", ", IDE {}", ", à {}", ", NPA {}", ", tél. {}", ", e-mail {}"),
    "en": ("the supplier {}", ", tax id {}", ", in {}", ", postcode {}", ", phone {}",
           ", email {}"),
}  # fmt: skip


def sentence(record: dict[str, Any], template: tuple[str, ...]) -> str:
    text = template[0].format(record.get("name", "")).replace("  ", " ")
    for role, part in zip(ROLES, template[1:], strict=True):
        if role in record:
            text += part.format(record[role])
    return text


def outcome(res: Resolution, expected: dict[str, Any]) -> str:
    if res.decision is not Decision.MATCH:
        return "halted"
    right = expected["expected"] == "match" and res.canonical_id in expected["canonical_ids"]
    return "right" if right else "wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("sample", type=Path)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    resolver = load_resolver(args.workdir)
    lines = (args.sample / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    expected = {str(e["id"]): e for e in map(json.loads, lines)}
    rng = random.Random(args.seed)
    tally: Counter[tuple[str, str, str]] = Counter()
    for line in (args.sample / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        query = json.loads(line)
        record = {FIELDS.get(k, k): v for k, v in query["record"].items()}
        if query["entity_type"] != "supplier" or not set(record) <= {"name", *ROLES}:
            continue
        language = rng.choice(sorted(TEMPLATES))
        text = sentence(record, TEMPLATES[language])
        exp = expected[str(query["id"])]
        structured = outcome(resolver.resolve(ResolveQuery.model_validate(query)), exp)
        mention = outcome(resolver.resolve(ResolveQuery(text=text)), exp)
        tally[(exp["expected"], structured, mention)] += 1
    total = sum(tally.values())
    same = sum(n for (_, a, b), n in tally.items() if a == b)
    print(f"{total} supplier queries as sentences: {same} resolve as their record does")
    print("expected  record   sentence   queries")
    for (exp_, a, b), n in sorted(tally.items()):
        print(f"{exp_:<9} {a:<8} {b:<10} {n:>7}")


if __name__ == "__main__":
    main()
