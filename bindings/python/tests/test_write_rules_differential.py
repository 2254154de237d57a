"""storage.base's name and write rules (decided by the core: mf_filename_validate,
mf_filename_check_write, mf_filename_protected) against muflow 0.4.0: the same
exception class and message for every case."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import muflow.storage.base as theirs
import muflow_native.storage.base as ours
from json_strategies import scaled

NAMES = ["context.json", "manifest.json", "error.json", "a.txt", "dir/a.txt", "", "/abs", "../up", "a/../../up",
         "a/..", "./x", "x//y", "caf\u00e9.txt", "it's.json", "Manifest.json", " manifest.json"]


def outcome(function, *args):
    try:
        function(*args)
    except Exception as error:  # noqa: BLE001 - the class and message are compared
        return type(error), str(error)
    return None


def test_protected_files_are_muflows():
    assert ours.PROTECTED_FILES == theirs.PROTECTED_FILES


@settings(max_examples=scaled(500))
@given(name=st.one_of(st.sampled_from(NAMES), st.text(alphabet="ab./", max_size=8),
                      st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=8)),
       written=st.lists(st.sampled_from(NAMES + ["ab", "a"]), max_size=4), allow=st.booleans())
def test_validate_writable_like_muflow(name, written, allow):
    assert outcome(ours.validate_writable, name, set(written), allow) == \
        outcome(theirs.validate_writable, name, set(written), allow)


@pytest.mark.parametrize("name", [n for n in NAMES if n != ""] + ["a" * 300])
def test_validate_writable_messages(name):
    for written, allow in [(set(), False), ({name}, False), ({name}, True), (set(), True)]:
        assert outcome(ours.validate_writable, name, written, allow) == \
            outcome(theirs.validate_writable, name, written, allow)


def test_validate_writable_refuses_with_the_cores_words():
    with pytest.raises(PermissionError, match=r"^'manifest.json' is a protected file and cannot be written by tasks.$"):
        ours.validate_writable("manifest.json", set())
    with pytest.raises(FileExistsError, match=r"^'a' has already been written.  Files can only be written once.$"):
        ours.validate_writable("a", {"a"})
