"""The README's Python examples run, in order, in one namespace."""

import pathlib
import re

import muflow_native

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"


def test_readme_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 5
    namespace = {}
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    finally:
        for name in list(muflow_native.registry.get_names()):
            if name.startswith("readme."):
                muflow_native.registry.unregister(name)
    printed = capsys.readouterr().out
    assert "Total nodes: 4" in printed
    assert "success" in printed
    assert "4/4 nodes complete" in printed
