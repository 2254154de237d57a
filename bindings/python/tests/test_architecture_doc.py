"""ARCHITECTURE.md's table from Python modules to the mf_* functions they call (and the
Swift files implementing them) is what the source says, and the files it names exist."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_module_table_matches_the_source():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "architecture_map.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_file_the_document_names_exists():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:Sources|Tests|bindings|tools|include)/[^`*]+)`", text))
    assert named, "the document names no files"
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert missing == []
