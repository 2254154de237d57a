"""Hypothesis strategies for values `json.dumps` accepts, aimed at the corners where a
reimplementation of it can differ: every code point (astral characters, lone
surrogates, controls), integers of any size, every kind of float, non-str keys."""

import os

from hypothesis import strategies as st

SCALE = float(os.environ.get("MUFLOW_HYPOTHESIS_SCALE", "1"))


def scaled(n: int) -> int:
    """An example count, scaled by MUFLOW_HYPOTHESIS_SCALE (e.g. 0.1 for a quick run)."""
    return max(10, int(n * SCALE))


# -- Text ------------------------------------------------------------------------------

SPECIAL_CHARS = [
    "\x00", "\x01", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\x1b", "\x1f", " ", '"', "'",
    "\\", "/", "\x7f", "\x80", "\x85", "\xa0", "\xad", "\xff", "\u0100", "\u2028", "\u2029",
    "\ud7ff", "\ud800", "\udbff", "\udc00", "\udfff", "\ue000", "\ufeff", "\ufffd", "\uffff",
    "\U00010000", "\U0001f600", "\U0001f1eb", "\U000e0001", "\U000fffff", "\U0010ffff",
    "\u0301", "\u200b", "\u00e9", "\u4e2d",
]

any_char = st.characters(codec=None, exclude_categories=())
surrogate_char = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
astral_char = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF, exclude_categories=())
control_char = st.characters(max_codepoint=0x9F, categories=["Cc"])
char = st.one_of(
    any_char,
    st.sampled_from(SPECIAL_CHARS),
    surrogate_char,
    astral_char,
    control_char,
    st.characters(max_codepoint=0x7F),
)
text = st.one_of(
    st.text(alphabet=char, max_size=12),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8),
    st.sampled_from(["", "a", "task", "A", "a b", "x" * 40, "\U0001f600\uffff", "\ud83d\ude00", "e\u0301"]),
)
key_text = st.one_of(
    st.text(alphabet=char, max_size=6),
    st.sampled_from(["a", "b", "aa", "task", "\uffff", "\U00010000", "\ud800", "\ue000", "A", ""]),
)

# -- Numbers ---------------------------------------------------------------------------

INT_EDGES = [
    0, 1, -1, 2**31 - 1, -(2**31), 2**32, 2**53, 2**53 + 1, 2**63 - 1, 2**63, -(2**63),
    -(2**63) - 1, 2**64 - 1, 2**64, -(2**64), 2**64 + 1, 10**19, 10**20, -(10**20),
    2**128, -(2**128) + 1, 10**100, -(10**100) - 7, 2**1000,
]
integers = st.one_of(
    st.integers(min_value=-(2**8), max_value=2**8),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.integers(min_value=-(10**600), max_value=10**600),
    st.sampled_from(INT_EDGES),
)

FLOAT_EDGES = [
    0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 1e16, -1e16, 1e15, 9.999999999999999e15,
    9999999999999998.0, 1e17, 1e-4, 1e-5, 0.0001, 0.00001, 1.0000000000000002e-05, 123456789.0,
    1e22, 1e23, 1.7976931348623157e308, -1.7976931348623157e308, 2.2250738585072014e-308,
    2.225073858507201e-308, 5e-324, -5e-324, 1e-323, 4.9406564584124654e-324,
    float("nan"), float("inf"), float("-inf"), 2.0**53, 2.0**63, 2.0**64, -(2.0**64), 2.0**1000,
    0.30000000000000004, 1 / 3, 2 / 3, 100.0, 1e100, 1.5e300, 3.14159, 299792458.0,
]
floats = st.one_of(
    st.floats(),
    st.floats(allow_subnormal=True, min_value=-1e-300, max_value=1e-300),
    st.floats(min_value=1e14, max_value=1e18),
    st.floats(min_value=1e-7, max_value=1e-3),
    st.integers(min_value=-(2**70), max_value=2**70).map(float),
    st.sampled_from(FLOAT_EDGES),
)

scalars = st.one_of(st.none(), st.booleans(), integers, floats, text)


def json_values(max_leaves: int = 20, tuples: bool = True, leaves=scalars):
    """Nested dicts (str keys), lists and (optionally) tuples of scalars."""

    def extend(children):
        containers = [
            st.lists(children, max_size=5),
            st.dictionaries(key_text, children, max_size=5),
        ]
        if tuples:
            containers.append(st.lists(children, max_size=4).map(tuple))
        return st.one_of(*containers)

    return st.recursive(leaves, extend, max_leaves=max_leaves)


# -- Non-str keys ----------------------------------------------------------------------

# Key sets that Python can sort, hence json.dumps(sort_keys=True) accepts.
numeric_key = st.one_of(st.booleans(), integers, floats)
key_sets = st.one_of(
    st.lists(integers, max_size=6),
    st.lists(floats, max_size=6),
    st.lists(numeric_key, max_size=6),
    st.lists(st.booleans(), max_size=2),
    st.just([None]),
    st.lists(text, max_size=6),
)


@st.composite
def non_str_key_dicts(draw, values=None):
    keys = draw(key_sets)
    values = values if values is not None else json_values(max_leaves=4)
    return {key: draw(values) for key in keys}


# -- Task values (label = str(task)) ----------------------------------------------------

task_values = st.one_of(
    text,
    text,
    st.sampled_from(["ml.loo_cv", "a'b", 'a"b', "a'\"b", "back\\slash", "tab\there", "nul\x00x",
                     "line\nbreak", "\x7f", "\ud800", "\U0001f600", "caf\u00e9", "\u2028"]),
    integers,
    floats,
    st.none(),
    st.booleans(),
    st.lists(st.one_of(text, integers, floats, st.none(), st.booleans()), max_size=4),
    st.lists(st.one_of(text, integers, floats), max_size=3).map(tuple),
    st.dictionaries(key_text, st.one_of(text, integers, floats, st.none()), max_size=3),
    json_values(max_leaves=6),
)

base_prefixes = st.one_of(
    st.sampled_from(["muflow", "", "s3://bucket/prefix", "/tmp/cache", "a/b/", "caf\u00e9", "\U0001f600"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
)


@st.composite
def hash_dicts(draw, max_leaves: int = 20):
    """A hash dict as muflow's builder makes (str keys), with or without "task"."""
    d = draw(st.dictionaries(key_text, json_values(max_leaves=max_leaves // 2 + 1), max_size=6))
    choice = draw(st.integers(0, 4))
    if choice == 0:
        d.pop("task", None)
    elif choice <= 2:
        d["task"] = draw(text)
    else:
        d["task"] = draw(task_values)
    return d


@st.composite
def identity_keys_for(draw, d):
    """None, [], or a list mixing the dict's keys, absent keys and duplicates."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return None
    if kind == 1:
        return []
    present = list(d)
    pool = st.one_of(st.sampled_from(present), key_text) if present else key_text
    keys = draw(st.lists(pool, max_size=6))
    if keys and draw(st.booleans()):
        keys.append(draw(st.sampled_from(keys)))
    if draw(st.booleans()):
        keys.append("task")
    return keys


def distinct_nan_keys(value) -> int:
    """The most NaN keys (distinct objects) any one dict in `value` holds: json.dumps
    writes each as the key "NaN", so more than one is refused (a deliberate difference)."""
    if isinstance(value, dict):
        own = sum(1 for k in value if isinstance(k, float) and k != k)
        return max([own] + [distinct_nan_keys(v) for v in value.values()])
    if isinstance(value, (list, tuple)):
        return max([0] + [distinct_nan_keys(v) for v in value])
    return 0
