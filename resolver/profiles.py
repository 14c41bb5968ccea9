"""ERP profiles: entity types, native keys, field roles, comparisons and blocking rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from resolver.errors import ProfileError
from resolver.normalise import fold

#: Roles the resolver knows how to normalise; a profile maps each to the ERP's own columns.
ROLES: tuple[str, ...] = (
    "name",
    "tax_id",
    "address",
    "city",
    "state",
    "postcode",
    "country",
    "phone",
    "email",
    "birth_date",
    "number",
    "branch",
    "given_name",
    "family_name",
    "house_number",
)
#: Columns derived from roles during normalisation (role -> derived columns).
DERIVED: dict[str, tuple[str, ...]] = {"name": ("name_sorted",), "tax_id": ("tax_root",)}

#: Derived columns holding distinct words, which token levels compare as sets.
DISTINCT_WORD_COLUMNS: tuple[str, ...] = ("name_sorted",)

#: The shipped profiles, one per ERP kind (`<kind>.yaml`).
PROFILES_DIR = Path(__file__).resolve().parent.parent / "config" / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "protheus.yaml"


def shipped_profile_path(kind: str) -> Path:
    """Where the shipped profile of an ERP kind is (`config/profiles/<kind>.yaml`)."""
    return PROFILES_DIR / f"{kind.lower()}.yaml"


_PLACEHOLDER = re.compile(r"{([A-Za-z0-9_]+)}")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelSpec(_Frozen):
    """One comparison level, above the null level and before the catch-all else level."""

    kind: Literal[
        "exact",
        "jaro_winkler",
        "levenshtein",
        "prefix",
        "token_subset",
        "token_prefix",
        "token_jaccard",
    ]
    column: str | None = Field(default=None, description="defaults to the comparison's column")
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    distance: int | None = Field(default=None, ge=0)
    length: int | None = Field(default=None, ge=1)
    tf: bool = False
    label: str | None = None

    @model_validator(mode="after")
    def _parameters_fit_kind(self) -> LevelSpec:
        needs = {
            "jaro_winkler": "threshold",
            "token_jaccard": "threshold",
            "levenshtein": "distance",
            "prefix": "length",
        }
        wanted = needs.get(self.kind)
        if wanted is not None and getattr(self, wanted) is None:
            raise ValueError(f"level kind {self.kind!r} needs {wanted!r}")
        if self.kind.startswith("token_") and self.column not in DISTINCT_WORD_COLUMNS:
            raise ValueError(
                f"level kind {self.kind!r} needs a column of distinct words: "
                + ", ".join(DISTINCT_WORD_COLUMNS)
            )
        if self.tf and self.kind != "exact":
            raise ValueError("term-frequency adjustment (tf) is only supported on exact levels")
        return self


class ComparisonSpec(_Frozen):
    """A splink comparison on one column: a null level, the given levels, then else.

    `fixed_m` pins P(level | same record) for each level and else, from domain knowledge,
    where EM cannot learn it: EM over a master cannot tell a branch (another record that
    shares the name and the CNPJ root) from a legacy duplicate (the same record keyed again).
    """

    column: str
    levels: list[LevelSpec] = Field(min_length=1)
    fixed_m: list[float] | None = None

    @model_validator(mode="after")
    def _fixed_m_fits(self) -> ComparisonSpec:
        if self.fixed_m is not None:
            if len(self.fixed_m) != len(self.levels) + 1:
                raise ValueError("fixed_m needs one value per level plus one for else")
            if any(not 0.0 < m < 1.0 for m in self.fixed_m) or abs(sum(self.fixed_m) - 1) > 1e-9:
                raise ValueError("fixed_m values must be in (0, 1) and sum to 1")
        return self


class DecisionSpec(_Frozen):
    """Default decision rule of an entity type, until a calibration replaces the threshold."""

    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    #: 5 bits: the query must be 32 times likelier under the top candidate than the runner-up
    #: (3 bits let a name-only query pick one of two look-alikes 1 time in 8).
    margin: float = Field(default=5.0, ge=0.0, description="match-weight gap to the runner-up")
    min_evidence: int = Field(
        default=2,
        ge=0,
        description="agreeing fields a match needs; an identifier (tax id…) counts for two",
    )
    identifiers: list[str] = Field(
        default_factory=lambda: ["tax_id"],
        description="comparisons whose agreement alone identifies a record",
    )
    #: 4 bits (16:1): above the weight of sharing generic words ("Indústria de Embalagens",
    #: ~+1.7), below a similar or misspelt name (+5 and more).
    plausible_name_bits: float = Field(
        default=4.0,
        description="a candidate whose name comparison weighs more than this is plausibly the"
        " record: the query is then ambiguous, never no_match",
    )
    #: 7 bits (128:1): above a merely similar name (jaro-winkler ≥ 0.88 or half the words
    #: shared, +4 to +5 bits), below an abbreviated, reordered or misspelt form of the same
    #: words (+8 and more).
    lookalike_name_bits: float = Field(
        default=7.0,
        description="another record whose name weighs more than this is a look-alike: a"
        " name-only query then halts, and a near (not exact) name counts as exact only"
        " when no record is a look-alike",
    )


#: Joins the columns of one role source: `GIVEN_NAME+SURNAME` is the two values, space-joined.
JOIN = "+"


def _upper_columns(raw: object) -> object:
    """A profile entry's column names in upper case, as extracts' headers are read (a profile
    written with a file's own lower-case names works)."""
    if not isinstance(raw, dict):
        return raw
    out = dict(raw)
    for key in ("native_key", "display"):
        if isinstance(out.get(key), list):
            out[key] = [c.upper() if isinstance(c, str) else c for c in out[key]]
    if isinstance(out.get("blocked_flag"), str):
        out["blocked_flag"] = out["blocked_flag"].upper()
    if isinstance(out.get("roles"), dict):
        out["roles"] = {
            role: [c.upper() if isinstance(c, str) else c for c in cols]
            if isinstance(cols, list)
            else cols
            for role, cols in out["roles"].items()
        }
    if isinstance(out.get("canonical_id"), str):
        out["canonical_id"] = _PLACEHOLDER.sub(
            lambda m: "{" + m.group(1).upper() + "}", out["canonical_id"]
        )
    return out


class EntityTypeSpec(_Frozen):
    """An ERP entity type: where it lives, how it is keyed, and how its records are compared.

    Column names are case-insensitive (kept upper-case, as extract headers are read). Each role
    lists its sources, the first non-empty one wins; a source may join several columns with
    `+` (`name: [GIVEN_NAME+SURNAME]`).
    """

    @model_validator(mode="before")
    @classmethod
    def _columns_upper(cls, raw: object) -> object:
        return _upper_columns(raw)

    table: str
    source: dict[str, str] | None = Field(
        default=None,
        description="where the ERP keeps the records, as its connector reads them (Protheus:"
        " `resource`; SAP: `service`, `entity_set`, `filter`; Oracle: `resource`, `expand`,"
        " `api`): what `canon train --source erp` and drills read; none: not read from the ERP",
    )
    native_key: list[str] = Field(min_length=1)
    canonical_id: str
    matching: Literal["probabilistic", "key"] = "probabilistic"
    party: bool = Field(default=True, description="competes in queries that give no entity type")
    roles: dict[str, list[str]]
    display: list[str] = Field(default_factory=list)
    blocked_flag: str | None = None
    comparisons: list[str] = Field(default_factory=list)
    blocking_rules: list[list[str]] = Field(default_factory=list)
    em_blocking_rules: list[list[str]] = Field(default_factory=list)
    deterministic_rules: list[list[str]] = Field(default_factory=list)
    deterministic_recall: float = Field(default=0.7, gt=0.0, le=1.0)
    m_from: Literal["simulated", "em"] = Field(
        default="simulated",
        description="where m comes from for comparisons without fixed_m: simulated agent"
        " queries over the master (resolver.simulate), or EM over the master's duplicates",
    )
    decision: DecisionSpec = Field(default_factory=DecisionSpec)
    mention: str | None = Field(
        default=None,
        description="a regular expression finding this entity type's number in free text"
        " (group 1: the number), e.g. after `PO` or `pedido`",
    )
    words: list[str] = Field(
        default_factory=list,
        description="nouns that name this entity type in free text, in any language"
        " (`fornecedor`, `Lieferant`): a sentence holding one, in a query that gives no entity"
        " type, is read as about this type; kept folded, as a sentence's words are compared",
    )

    @field_validator("words")
    @classmethod
    def _words_folded(cls, words: list[str]) -> list[str]:
        return [folded for word in words if (folded := fold(word))]

    @field_validator("mention")
    @classmethod
    def _mention_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ValueError(f"not a regular expression: {e}") from e
        return value

    def sources(self, role: str) -> list[list[str]]:
        """A role's sources in order, each the list of columns it joins."""
        return [source.split(JOIN) for source in self.roles.get(role, [])]

    def columns(self) -> set[str]:
        """Every ERP column the entity type reads from its extract."""
        cols = set(self.native_key) | set(self.display)
        for role in self.roles:
            for source in self.sources(role):
                cols.update(source)
        if self.blocked_flag:
            cols.add(self.blocked_flag)
        return cols

    def role_of_column(self) -> dict[str, str]:
        """Map each ERP column used by a role to that role (lets queries use ERP field names);
        a column joined into a source maps to its role too."""
        return {
            col.upper(): role
            for role in self.roles
            for source in self.sources(role)
            for col in source
        }

    def available_columns(self) -> set[str]:
        """Normalised columns this entity type has: its roles and what derives from them."""
        out = set(self.roles)
        for role in self.roles:
            out.update(DERIVED.get(role, ()))
        return out


#: Tax-id kinds free-text mentions can detect (resolver.mention), each checked by python-stdnum.
TaxIdKind = Literal["cnpj", "cpf", "ch_uid", "de_vat", "at_uid", "vat"]
MENTION_TAX_IDS: tuple[TaxIdKind, ...] = ("cnpj", "cpf", "ch_uid", "de_vat", "at_uid", "vat")


class MentionSpec(_Frozen):
    """How free-text mentions are read (resolver.mention): which tax-id kinds to look for, in
    order, and the regions phone numbers written without a country code are read in."""

    tax_ids: list[TaxIdKind] = Field(default_factory=lambda: list(MENTION_TAX_IDS))
    phone_regions: list[str] = Field(default_factory=lambda: ["BR", "CH", "DE", "AT", "FR"])

    @field_validator("phone_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not re.fullmatch(r"[A-Z]{2}", region):
                raise ValueError(f"{region!r} is not a two-letter region code (BR, CH…)")
        return value


class GatewayOnlySpec(_Frozen):
    """An entity type the gateway acts on but the resolver does not resolve (no extract is
    trained): where the ERP keeps its records and the form of their ids, for drills."""

    @model_validator(mode="before")
    @classmethod
    def _columns_upper(cls, raw: object) -> object:
        return _upper_columns(raw)

    source: dict[str, str]
    canonical_id: str


class CrossEntitySpec(_Frozen):
    """A conflict-of-interest control between two entity types: the records of `offenders`
    whose value of a field some record of `against` holds too (values compared normalised, as
    the resolver compares them), one metric per field; each field a role both types hold."""

    offenders: str
    against: str
    fields: list[str] = Field(min_length=1)


class ReferenceSpec(_Frozen):
    """Records of one entity type naming a record of another (a purchase order its supplier):
    the consistency metrics check that the named record exists and, for open records, that it
    is not blocked. Columns are the ERP's, as the extracts have them (upper case)."""

    @model_validator(mode="before")
    @classmethod
    def _columns_upper(cls, raw: object) -> object:
        if not isinstance(raw, dict):
            return raw
        out = dict(raw)
        for key in ("by", "branch", "closed"):
            if isinstance(out.get(key), dict):
                out[key] = {
                    str(k).upper(): (str(v).upper() if key != "closed" else v)
                    for k, v in out[key].items()
                }
        return out

    records: str = Field(description="the entity type whose records name another's")
    refer_to: str = Field(description="the entity type of the records they name")
    by: dict[str, str] = Field(
        min_length=1, description="column of `records` -> the column of `refer_to` it holds"
    )
    branch: dict[str, str] = Field(
        default_factory=dict,
        description="as `by`, but a blank column of `refer_to` matches any (a shared table)",
    )
    closed: dict[str, str] = Field(
        default_factory=dict,
        max_length=1,
        description="column -> value of a closed row; a record is open while any of its rows"
        " is not (its blocked referents are then flagged, with `refer_to`'s blocked_flag)",
    )
    blocked_value: str = Field(default="1", description="the blocked_flag value of a block")


class QualitySpec(_Frozen):
    """Quality metrics a profile declares beyond those every entity type gets."""

    cross_entity: list[CrossEntitySpec] = Field(default_factory=list)
    references: list[ReferenceSpec] = Field(default_factory=list)


class Profile(_Frozen):
    """One ERP's profile: its comparison library and entity types."""

    erp: str
    comparisons: dict[str, ComparisonSpec] = Field(default_factory=dict)
    entity_types: dict[str, EntityTypeSpec]
    gateway_only: dict[str, GatewayOnlySpec] = Field(
        default_factory=dict,
        description="entity types the gateway acts on that the resolver does not resolve",
    )
    mentions: MentionSpec = Field(default_factory=MentionSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)

    def known(self) -> list[str]:
        """Every entity type the profile declares, resolved or acted on only."""
        return [*self.entity_types, *self.gateway_only]

    def _declared(self, entity_type: str) -> EntityTypeSpec | GatewayOnlySpec:
        found = self.entity_types.get(entity_type) or self.gateway_only.get(entity_type)
        if found is None:
            raise ProfileError(
                f"the {self.erp} profile declares no entity type {entity_type!r} "
                f"(known: {', '.join(self.known())})"
            )
        return found

    def source(self, entity_type: str) -> dict[str, str] | None:
        """Where the ERP keeps an entity type's records (None: the profile says nowhere);
        ProfileError naming the known entity types when the profile does not declare it."""
        return self._declared(entity_type).source

    def id_template(self, entity_type: str) -> str:
        """The form of an entity type's canonical ids (`SA2:{A2_FILIAL}:{A2_COD}:{A2_LOJA}`)."""
        return self._declared(entity_type).canonical_id

    def narrowed(self, names: Iterable[str]) -> Profile:
        """The profile with only these entity types, and the quality metrics between them."""
        wanted = set(names)
        kept = {n: s for n, s in self.entity_types.items() if n in wanted}
        cross = [c for c in self.quality.cross_entity if {c.offenders, c.against} <= set(kept)]
        refs = [r for r in self.quality.references if {r.records, r.refer_to} <= set(kept)]
        quality = self.quality.model_copy(update={"cross_entity": cross, "references": refs})
        return self.model_copy(update={"entity_types": kept, "quality": quality})


def _problems(profile: Profile) -> list[str]:
    out: list[str] = []
    for et_name, et in profile.entity_types.items():
        where = f"entity_types.{et_name}"
        for role in et.roles:
            if role not in ROLES:
                out.append(f"{where}.roles.{role}: unknown role (known: {', '.join(ROLES)})")
        for field in _PLACEHOLDER.findall(et.canonical_id):
            if field not in et.native_key:
                out.append(f"{where}.canonical_id: {{{field}}} is not a native_key field")
        available = et.available_columns()
        for comp in et.comparisons:
            spec = profile.comparisons.get(comp)
            if spec is None:
                out.append(f"{where}.comparisons: {comp!r} is not defined under comparisons")
                continue
            cols = {spec.column} | {lv.column for lv in spec.levels if lv.column}
            for col in sorted(cols - available):
                out.append(f"{where}.comparisons.{comp}: column {col!r} needs a role it lacks")
        for key in ("blocking_rules", "em_blocking_rules", "deterministic_rules"):
            for i, rule in enumerate(getattr(et, key)):
                for col in rule:
                    if col not in available:
                        out.append(f"{where}.{key}[{i}]: {col!r} is not a column of {et_name}")
        if et.matching == "probabilistic" and not et.comparisons:
            out.append(f"{where}.comparisons: a probabilistic entity type needs comparisons")
    for name in profile.gateway_only:
        if name in profile.entity_types:
            out.append(f"gateway_only.{name}: already an entity type of entity_types")
    known = ", ".join(profile.entity_types)
    for i, cross in enumerate(profile.quality.cross_entity):
        where = f"quality.cross_entity[{i}]"
        sides = [(k, getattr(cross, k)) for k in ("offenders", "against")]
        missing = [(k, n) for k, n in sides if n not in profile.entity_types]
        for key, name in missing:
            out.append(f"{where}.{key}: {name!r} is not an entity type (known: {known})")
        if missing:
            continue
        for field in cross.fields:
            for key, name in sides:
                if field not in profile.entity_types[name].roles:
                    out.append(f"{where}.fields: {field!r} is not a role of {key} {name!r}")
    for i, ref in enumerate(profile.quality.references):
        out += _reference_problems(profile, f"quality.references[{i}]", ref)
    return out


def _reference_problems(profile: Profile, where: str, ref: ReferenceSpec) -> list[str]:
    known = ", ".join(profile.entity_types)
    sides = [(k, getattr(ref, k)) for k in ("records", "refer_to")]
    missing = [f"{where}.{k}: {n!r} is not an entity type (known: {known})" for k, n in sides
               if n not in profile.entity_types]  # fmt: skip
    if missing:
        return missing
    out = []
    records, named = (profile.entity_types[n].columns() for _, n in sides)
    for key in ("by", "branch"):
        for mine, theirs in getattr(ref, key).items():
            if mine not in records:
                out.append(f"{where}.{key}: {mine} is not a column of {ref.records}")
            if theirs not in named:
                out.append(f"{where}.{key}: {theirs} is not a column of {ref.refer_to}")
    for column in ref.closed:
        if column not in records:
            out.append(f"{where}.closed: {column} is not a column of {ref.records}")
    return out


def load_profile(path: Path | None = None) -> Profile:
    """Read and validate a profile; every problem in the file is reported at once."""
    path = path or DEFAULT_PROFILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ProfileError(f"{path}: profile file not found") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: not valid YAML: {e}") from e
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as e:
        lines = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()
        ]
        raise ProfileError(f"{path}: " + "; ".join(lines)) from e
    problems = _problems(profile)
    if problems:
        raise ProfileError(f"{path}: " + "; ".join(problems))
    return profile


def canonical_id(spec: EntityTypeSpec, row: dict[str, str]) -> str:
    """Serialise a record's native key as the ERP's own canonical id."""
    return spec.canonical_id.format(**{k: row.get(k, "") for k in spec.native_key})
