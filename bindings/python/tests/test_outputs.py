"""OutputFile and get_outputs_schema, compared with muflow 0.4.0."""

import dataclasses

import pydantic
import pytest

from muflow_native.outputs import OutputFile, get_outputs_schema


class Result(pydantic.BaseModel):
    accuracy: float
    labels: list[str] = []


def _outputs(output_file):
    class Outputs:
        files = {
            "result.json": output_file("json", "Training results", Result),
            "model.nc": output_file(file_type="netcdf", description="Weights"),
            "log.txt": output_file("text", optional=True),
        }

    return Outputs


def test_defaults_and_fields():
    f = OutputFile("binary")
    assert (f.file_type, f.description, f.schema, f.optional) == ("binary", "", None, False)
    assert [field.name for field in dataclasses.fields(OutputFile)] == ["file_type", "description", "schema", "optional"]
    assert OutputFile("json", "d") == OutputFile(file_type="json", description="d")


def test_same_fields_as_muflow():
    oracle = pytest.importorskip("muflow.outputs")
    assert [f.name for f in dataclasses.fields(OutputFile)] == [f.name for f in dataclasses.fields(oracle.OutputFile)]
    assert [f.default for f in dataclasses.fields(OutputFile)] == [f.default for f in dataclasses.fields(oracle.OutputFile)]


def test_schema_lists_files_in_order():
    schema = get_outputs_schema(_outputs(OutputFile))
    assert [entry["filename"] for entry in schema] == ["result.json", "model.nc", "log.txt"]
    assert schema[0]["schema"] == Result.model_json_schema()
    assert schema[1] == {"filename": "model.nc", "file_type": "netcdf", "description": "Weights",
                         "optional": False, "schema": None}
    assert schema[2]["optional"] is True


def test_schema_same_as_muflow():
    oracle = pytest.importorskip("muflow.outputs")
    assert get_outputs_schema(_outputs(OutputFile)) == oracle.get_outputs_schema(_outputs(oracle.OutputFile))


@pytest.mark.parametrize("outputs", [None, type("NoFiles", (), {}), type("Empty", (), {"files": {}}),
                                     type("NoneFiles", (), {"files": None})])
def test_no_files_gives_empty_list(outputs):
    assert get_outputs_schema(outputs) == []
    oracle = pytest.importorskip("muflow.outputs")
    assert oracle.get_outputs_schema(outputs) == []


def test_accepts_muflow_output_files():
    oracle = pytest.importorskip("muflow.outputs")
    assert get_outputs_schema(_outputs(oracle.OutputFile)) == get_outputs_schema(_outputs(OutputFile))
