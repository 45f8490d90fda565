"""The comparison kinds, one registry: each kind declares the record fields it reads, the
inputs it computes once per pair (SQL over the two comparison records ``l`` and ``r``), its
levels (strongest first, each a SQL condition over those inputs) and each level's default m.

A pair's level of a comparison is -1 when a side is missing, 0 when no level holds, and
otherwise ``top - position`` of the first level that holds, so the exact level is ``top``.
Default m values are only the fallback for a fit that fails (see training.py); the weights
used are estimated from the data. Levels marked ``term_frequency`` weigh agreement on a common
value (Smith, a shared office phone, info@) less than on a rare one.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_quality.warehouse import quote

SWAPPED = "swapped"
"""A pair-level input: first and last name written the other way round (see compare.py)."""


@dataclass(frozen=True)
class Level:
    name: str
    when: str
    """SQL over the comparison's inputs, written with ``{input}`` placeholders."""
    m: float
    """Default m: how often two records of one entity show this level, when the fit fails."""
    term_frequency: bool = False


@dataclass(frozen=True)
class Comparison:
    name: str
    column: str
    """The comparison record's column; a side with it NULL is missing."""
    kind: str
    fields: tuple[str, ...]
    """Every comparison-record column it reads: a blocking rule on any of them selects its pairs."""
    inputs: tuple[tuple[str, str], ...]
    """(input, SQL over l.* and r.*), computed once per pair; 'similarity' is kept for explanations."""
    levels: tuple[Level, ...]

    @property
    def top(self) -> int:
        return len(self.levels)

    @property
    def term_frequency(self) -> bool:
        return any(level.term_frequency for level in self.levels)

    def tf_levels(self) -> tuple[int, ...]:
        return tuple(self.top - i for i, level in enumerate(self.levels) if level.term_frequency)

    def input_name(self, name: str) -> str:
        return f"{self.name}__{name}"

    def input_columns(self) -> list[str]:
        left, right = f"l.{quote(self.column)}", f"r.{quote(self.column)}"
        missing = f"{left} IS NULL OR {right} IS NULL AS {quote(self.input_name('missing'))}"
        return [missing, *(f"{sql} AS {quote(self.input_name(name))}" for name, sql in self.inputs)]

    def level_sql(self) -> str:
        names = {name: quote(self.input_name(name)) for name, _ in self.inputs}
        names[SWAPPED] = SWAPPED
        steps = " ".join(f"WHEN coalesce({level.when.format(**names)}, false) THEN {self.top - i}"
                         for i, level in enumerate(self.levels))
        return (f"CAST(CASE WHEN {quote(self.input_name('missing'))} THEN -1 {steps} ELSE 0 END AS TINYINT) "
                f"AS {quote(self.name)}")

    def default_m(self) -> dict[int, float]:
        m = {self.top - i: level.m for i, level in enumerate(self.levels)}
        return {0: max(1.0 - sum(m.values()), 0.01), **m}


def _sides(column: str) -> tuple[str, str]:
    return f"l.{quote(column)}", f"r.{quote(column)}"


def _jw(left: str, right: str) -> str:
    return f"jaro_winkler_similarity({left}, {right})"


def exact(name: str, column: str, term_frequency: bool = False, m: float = 0.9) -> Comparison:
    left, right = _sides(column)
    return Comparison(name, column, "exact", (column,), (("equal", f"{left} = {right}"),),
                      (Level("exact", "{equal}", m, term_frequency),))


def string(name: str, column: str, thresholds: tuple[float, ...] = (0.92, 0.8),
           term_frequency: bool = True) -> Comparison:
    """Equal, then Jaro-Winkler (over folded text) at each threshold; the first is near-exact."""
    left, right = _sides(column)
    levels = (Level("exact", "{equal}", 0.7, term_frequency),
              *(Level(f"similarity >= {t}", f"{{similarity}} >= {t}", 0.25 / len(thresholds),
                      term_frequency and i == 0) for i, t in enumerate(thresholds)))
    return Comparison(name, column, "string", (column,),
                      (("equal", f"{left} = {right}"), ("similarity", _jw(left, right))), levels)


def given_name(name: str = "first_name") -> Comparison:
    """Exact or written the other way round; the same formal name (Bob and Robert), or the same
    first word (a middle name on one side); an initial; then Jaro-Winkler."""
    left, right = _sides("first_name")
    canonical = _sides("first_name_canonical")
    return Comparison(
        name, "first_name", "given_name", ("first_name", "first_name_canonical", "first_name_sound", "last_name"),
        (("equal", f"{left} = {right}"),
         ("same_name", f"{canonical[0]} = {canonical[1]} OR split_part({left}, ' ', 1) = split_part({right}, ' ', 1)"),
         ("initial", f"(length({left}) = 1 OR length({right}) = 1) AND left({left}, 1) = left({right}, 1)"),
         ("similarity", _jw(left, right))),
        (Level("exact", "{equal} OR {swapped}", 0.75, True),
         Level("nickname or middle name", "{same_name}", 0.08, True),
         Level("similarity >= 0.92", "{similarity} >= 0.92", 0.08, True),
         Level("initial", "{initial}", 0.03),
         Level("similarity >= 0.8", "{similarity} >= 0.8", 0.03)))


def family_name(name: str = "last_name") -> Comparison:
    """Exact or swapped with the first name; one surname part of the other (a double-barrelled
    or compound surname written in full on one side); then Jaro-Winkler."""
    left, right = _sides("last_name")
    parts = f"string_split({left}, ' ')", f"string_split({right}, ' ')"
    return Comparison(
        name, "last_name", "family_name", ("last_name", "last_name_sound", "first_name"),
        (("equal", f"{left} = {right}"),
         ("part", f"list_has_all({parts[0]}, {parts[1]}) OR list_has_all({parts[1]}, {parts[0]})"),
         ("similarity", _jw(left, right))),
        (Level("exact", "{equal} OR {swapped}", 0.75, True),
         Level("one part of the other", "{part}", 0.06, True),
         Level("similarity >= 0.92", "{similarity} >= 0.92", 0.1, True),
         Level("similarity >= 0.8", "{similarity} >= 0.8", 0.04)))


def email(name: str = "email") -> Comparison:
    """Exact; the same local part (unless it spells the surname, which the name comparisons
    already weigh); one character off (a longer difference is mostly another address built
    from the same name)."""
    left, right = _sides("email")
    return Comparison(
        name, "email", "email", ("email", "email_local"),
        (("equal", f"{left} = {right}"),
         ("local", "l.email_local = r.email_local AND NOT coalesce(l.email_local_is_name, false)"),
         ("typo", f"CASE WHEN abs(length({left}) - length({right})) <= 1 AND {left} <> {right} "
                  f"AND {_jw(left, right)} >= 0.9 THEN levenshtein({left}, {right}) = 1 ELSE false END")),
        (Level("exact", "{equal}", 0.7, True),
         Level("same local part", "{local}", 0.1),
         Level("one character off", "{typo}", 0.08)))


def phone(name: str = "phone") -> Comparison:
    left, right = _sides("phone")
    return Comparison(
        name, "phone", "phone", ("phone",),
        (("equal", f"{left} = {right}"), ("typo", f"levenshtein({left}, {right}) = 1")),
        (Level("exact", "{equal}", 0.7, True), Level("one digit off", "{typo}", 0.05)))


def birth_date(name: str = "birth_date") -> Comparison:
    """Exact; day and month swapped, or one digit off (also when a side is no valid date, such
    as '19720015'); the same year (or only a year known)."""
    left, right = _sides("birth_date")
    digits = _sides("birth_digits")
    return Comparison(
        name, "birth_digits", "date", ("birth_date", "birth_digits", "birth_year"),
        (("equal", f"{left} = {right}"),
         ("typo", f"(month({left}) = day({right}) AND day({left}) = month({right}) AND year({left}) = year({right})) "
                  f"OR levenshtein({digits[0]}, {digits[1]}) = 1"),
         ("year", "l.birth_year = r.birth_year")),
        (Level("exact", "{equal}", 0.8), Level("day and month swapped or one digit off", "{typo}", 0.1),
         Level("same year", "{year}", 0.04)))


def place(name: str = "place") -> Comparison:
    """Postal code and city as one comparison: two companies in one town share both, so weighing
    each on its own would count one fact twice. The same postal code and city; the same postal
    code; a postal code one character off in the same or a similar city; the same or a similar
    city."""
    postal, city = _sides("postal_code"), _sides("city")
    return Comparison(
        name, "place", "place", ("place", "postal_code", "city"),
        (("postal", f"{postal[0]} = {postal[1]}"), ("postal_typo", f"levenshtein({postal[0]}, {postal[1]}) = 1"),
         ("city", f"{city[0]} = {city[1]}"), ("similarity", _jw(city[0], city[1]))),
        (Level("same postal code and city", "{postal} AND {city}", 0.7),
         Level("same postal code", "{postal}", 0.1),
         Level("postal code one off, similar city", "{postal_typo} AND {similarity} >= 0.9", 0.05),
         Level("same or similar city", "{city} OR {similarity} >= 0.9", 0.08, True)))


def street(name: str = "street") -> Comparison:
    """The same street, or the same house number (or one side without a number) and most street
    words or a close spelling."""
    left, right = _sides("street")
    words = f"string_split({left}, ' ')", f"string_split({right}, ' ')"
    overlap = (f"len(list_intersect({words[0]}, {words[1]})) / "
               f"greatest(len(list_distinct({words[0]})), len(list_distinct({words[1]})))")
    return Comparison(
        name, "street", "street", ("street", "street_number"),
        (("equal", f"{left} = {right}"),
         ("similarity", f"CASE WHEN coalesce(l.street_number = r.street_number, true) "
                        f"THEN greatest({_jw(left, right)}, {overlap}) ELSE 0 END")),
        (Level("exact", "{equal}", 0.7), Level("same number, similar street", "{similarity} >= 0.75", 0.15)))


def organisation_name(name: str = "name") -> Comparison:
    """Company names: the same key, the same words in any order, then overlap of words weighted
    by their rarity (a shared 'Quitzon' counts, a shared 'International' barely) as a share of
    both names (dice) or of the shorter one (containment), one name the initials of the other
    (IBM), or a close spelling: of the sorted words, or of the letters and digits alone, which
    junk characters inside a word ('H^els') do not split."""
    left, right = _sides("name_key")
    tokens = "r.name_tokens"
    shared = (f"coalesce(list_sum(list_transform(list_filter(l.name_token_weights, lambda x: list_contains({tokens}, x.t)), "
              "lambda x: x.w)), 0)")
    return Comparison(
        name, "name_key", "organisation_name",
        ("name_key", "name_sorted", "name_tokens", "name_sound", "name_short", "name_compact"),
        (("equal", f"{left} = {right}"),
         ("short_form", "l.name_short = r.name_short AND l.name_is_short <> r.name_is_short"),
         ("same_words", "l.name_sorted = r.name_sorted"),
         ("dice", f"2 * {shared} / nullif(l.name_weight + r.name_weight, 0)"),
         ("containment", f"{shared} / nullif(least(l.name_weight, r.name_weight), 0)"),
         ("similarity", _jw("l.name_sorted", "r.name_sorted")),
         ("spelling", "1 - levenshtein(l.name_compact, r.name_compact) / "
                      "greatest(length(l.name_compact), length(r.name_compact), 1)")),
        (Level("exact", "{equal}", 0.5, True),
         Level("same words", "{same_words}", 0.15, True),
         Level("rare words shared, spelling close",
               "{dice} >= 0.8 OR {similarity} >= 0.95 OR {spelling} >= 0.9", 0.12, True),
         Level("one name inside the other", "{containment} >= 0.8", 0.08),
         Level("one name the short form of the other", "{short_form}", 0.05),
         Level("most rare words shared", "{dice} >= 0.6 OR {similarity} >= 0.9 OR {spelling} >= 0.8", 0.06),
         Level("some rare words shared", "{dice} >= 0.4", 0.04)))
