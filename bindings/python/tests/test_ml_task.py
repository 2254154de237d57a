"""The ML example: its numerics, its report writers, and its four tasks run end to end
(under muflow 0.4.0's own local backend, so the tasks are checked against the original
TaskContext)."""

import csv
import hashlib
import io
import json
import math
import re
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest

from muflow_native.examples import ml_model
from muflow_native.examples import ml_task
from muflow_native.examples.report_formats import _column_letters, csv_bytes, pdf_bytes, xlsx_bytes

SHEET_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


# ── numerics ────────────────────────────────────────────────────────────────


def test_features_are_deterministic_and_distinct():
    a1, y1 = ml_model.dataset_features("dataset_a")
    a2, y2 = ml_model.dataset_features("dataset_a")
    b, _ = ml_model.dataset_features("dataset_b")
    assert a1.shape == (ml_model.N_SAMPLES, len(ml_model.TRUE_WEIGHTS)) and y1.shape == (ml_model.N_SAMPLES,)
    assert np.array_equal(a1, a2) and np.array_equal(y1, y2)
    assert not np.array_equal(a1, b)
    assert a1.min() >= -1.0 and a1.max() < 1.0


def test_features_are_pinned():
    # Cached results stay valid only if a name always gives the same numbers.
    features, targets = ml_model.dataset_features("dataset_a")
    digest = hashlib.sha256(features.tobytes() + targets.tobytes()).hexdigest()
    assert digest == PINNED_DIGEST


def test_ridge_recovers_the_true_model():
    features, targets = ml_model.stack(
        [{"features": f.tolist(), "targets": t.tolist()} for f, t in map(ml_model.dataset_features, "abcdef")]
    )
    model = ml_model.fit_ridge(features, targets)
    assert np.allclose(model["weights"], ml_model.TRUE_WEIGHTS, atol=0.05)
    assert abs(model["intercept"] - ml_model.TRUE_INTERCEPT) < 0.05
    assert ml_model.r2_score(targets, ml_model.predict(model, features)) > 0.99


def test_ridge_without_penalty_is_least_squares():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    model = ml_model.fit_ridge(x, y, alpha=0.0)
    expected = np.linalg.lstsq(np.hstack([x, np.ones((30, 1))]), y, rcond=None)[0]
    assert np.allclose(model["weights"] + [model["intercept"]], expected)


def test_ridge_needs_data():
    with pytest.raises(ValueError):
        ml_model.fit_ridge(np.empty((0, 4)), np.empty(0))


def test_scores():
    y = np.array([1.0, 2.0, 3.0])
    assert ml_model.r2_score(y, y) == 1.0 and ml_model.rmse(y, y) == 0.0
    assert ml_model.rmse(y, y + 2) == pytest.approx(2.0)
    assert math.isnan(ml_model.r2_score(np.ones(3), np.ones(3)))


@pytest.mark.parametrize("key, index", [("features", 0), ("features:0", 0), ("features:12", 12)])
def test_job_index(key, index):
    assert ml_task._job_index(key) == index


# ── report writers ──────────────────────────────────────────────────────────

TABLE = [["name", "value", "note"], ["a", 1, 2.5], ["b<&>", float("nan"), None], ["c", True, "x,y"]]


def test_csv():
    rows = list(csv.reader(io.StringIO(csv_bytes(TABLE).decode())))
    assert rows[0] == ["name", "value", "note"] and rows[3] == ["c", "True", "x,y"]


def test_column_letters():
    assert [_column_letters(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]


def _sheet_cells(archive, number):
    root = ElementTree.fromstring(archive.read(f"xl/worksheets/sheet{number}.xml"))
    cells = {}
    for c in root.iterfind(".//s:c", SHEET_NS):
        v, t = c.find("s:v", SHEET_NS), c.find("s:is/s:t", SHEET_NS)
        cells[c.get("r")] = (c.get("t"), (v if v is not None else t).text)
    return cells


def test_xlsx_is_a_workbook():
    data = xlsx_bytes({"First": TABLE, "Sec/ond": [[1]]})
    assert data == xlsx_bytes({"First": TABLE, "Sec/ond": [[1]]})  # reproducible
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"} <= names
        for name in names:
            ElementTree.fromstring(archive.read(name))  # every part is well-formed XML
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        assert [s.get("name") for s in workbook.iterfind(".//s:sheet", SHEET_NS)] == ["First", "Sec_ond"]
        cells = _sheet_cells(archive, 1)
    assert cells["A1"] == ("inlineStr", "name")
    assert cells["B2"] == (None, "1") and cells["C2"] == (None, "2.5")
    assert cells["A3"] == ("inlineStr", "b<&>") and cells["B3"] == ("inlineStr", "nan") and "C3" not in cells
    assert cells["B4"] == ("b", "1")


def test_xlsx_opens_in_openpyxl():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"S": TABLE})))
    assert [[c.value for c in row] for row in book["S"].iter_rows()][1] == ["a", 1, 2.5]


def _check_pdf_structure(data: bytes) -> int:
    """Asserts the xref table points at each object; returns the page count."""
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    startxref = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[startxref:].startswith(b"xref")
    header = re.match(rb"xref\s+0 (\d+)\s+", data[startxref:])
    count = int(header.group(1))
    entries = data[startxref + header.end():].split(b"\n")[:count]
    for number, entry in enumerate(entries[1:], start=1):
        assert data[int(entry[:10]):].startswith(b"%d 0 obj" % number)
    for length, body in re.findall(rb"/Length (\d+) >>\nstream\n(.*?)\nendstream", data, re.S):
        assert int(length) == len(body)
    return int(re.search(rb"/Type /Pages /Kids \[[^\]]*\] /Count (\d+)", data).group(1))


def test_pdf_structure():
    data = pdf_bytes(["Hello (world) \\ back", "second line: ü", "emoji 😀"])
    assert _check_pdf_structure(data) == 1
    assert b"(Hello \\(world\\) \\\\ back) Tj" in data


def test_pdf_paginates():
    assert _check_pdf_structure(pdf_bytes([f"line {i}" for i in range(200)])) >= 3
    assert _check_pdf_structure(pdf_bytes([])) == 1


def test_pdf_text_extracts():
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes(["ML report", "fold 1"])))
    assert "ML report" in reader.pages[0].extract_text()


def test_unknown_report_format():
    model = {"weights": [1.0], "intercept": 0.0, "alpha": 0.0, "n_datasets": 1, "n_samples": 1,
             "train_r2": 1.0, "train_rmse": 0.0}
    with pytest.raises(ValueError, match="docx"):
        ml_task.render_report("docx", model, [])


# ── the tasks, end to end ───────────────────────────────────────────────────


def test_tasks_are_registered_under_muflows_names():
    from muflow_native import registry

    for name, fn in [("ml.compute_features", ml_task.compute_features), ("ml.train_model", ml_task.train_model),
                     ("ml.loo_cv", ml_task.loo_cv), ("ml.generate_report", ml_task.generate_report)]:
        entry = registry.get(name)
        assert entry is not None and entry.fn is fn
        assert entry.parameters is None and entry.outputs is None  # keeps muflow's plans and prefixes


def _run_under_muflow(tmp_path, datasets):
    """Runs muflow's ML pipeline with muflow's LocalBackend, but our task functions."""
    muflow_registry = pytest.importorskip("muflow.registry")
    from muflow.backends import LocalBackend
    from muflow.examples.ml_task import ml_pipeline

    functions = {"ml.compute_features": ml_task.compute_features, "ml.train_model": ml_task.train_model,
                 "ml.loo_cv": ml_task.loo_cv, "ml.generate_report": ml_task.generate_report}

    def get_entry(name):
        return muflow_registry.TaskEntry(name=name, fn=functions.get(name, lambda context: None))

    plan = ml_pipeline.build_plan("experiment:1", {"datasets": datasets}, base_prefix=str(tmp_path))
    LocalBackend(str(tmp_path), registry_get=get_entry, progress_reporter=lambda *a: None).submit_plan(plan)
    by_function = {}
    for node in plan.nodes.values():
        by_function.setdefault(node.function, []).append(node)
    return by_function


def _read_json(node, name):
    with open(f"{node.storage_prefix}/{name}") as f:
        return json.load(f)


def test_pipeline_end_to_end(tmp_path):
    datasets = ["dataset_a", "dataset_b", "dataset_c", "dataset_d"]
    nodes = _run_under_muflow(tmp_path, datasets)

    features = {(_read_json(n, "features.json"))["dataset"] for n in nodes["ml.compute_features"]}
    assert features == set(datasets)

    (train,) = nodes["ml.train_model"]
    model = _read_json(train, "model.json")
    assert model["n_datasets"] == 4 and model["datasets"] == datasets and model["train_r2"] > 0.99

    folds = sorted((_read_json(n, "cv_result.json") for n in nodes["ml.loo_cv"]), key=lambda r: r["fold"])
    assert [r["fold"] for r in folds] == [0, 1, 2, 3] and [r["dataset"] for r in folds] == datasets
    assert all(r["n_train"] == 3 and r["score"] > 0.9 for r in folds)

    reports = {}
    for node in nodes["ml.generate_report"]:
        fmt = node.kwargs["format"]
        with open(f"{node.storage_prefix}/report.{fmt}", "rb") as f:
            reports[fmt] = f.read()
    assert set(reports) == {"pdf", "xlsx", "csv"}
    rows = list(csv.reader(io.StringIO(reports["csv"].decode())))
    assert rows[0] == ["fold", "dataset", "n_train", "r2", "rmse"] and [r[1] for r in rows[1:5]] == datasets
    assert _check_pdf_structure(reports["pdf"]) == 1 and b"dataset_c" in reports["pdf"]
    with zipfile.ZipFile(io.BytesIO(reports["xlsx"])) as archive:
        assert _sheet_cells(archive, 1)["B5"] == ("inlineStr", "dataset_d")


def test_pipeline_with_a_single_dataset(tmp_path):
    nodes = _run_under_muflow(tmp_path, ["only"])
    (fold,) = nodes["ml.loo_cv"]
    result = _read_json(fold, "cv_result.json")
    assert result["n_train"] == 0 and result["score"] == "NaN" and result["dataset"] == "only"
    assert _read_json(nodes["ml.train_model"][0], "model.json")["n_datasets"] == 1


PINNED_DIGEST = "a20be2db582d0b15e025483e14ac2fe1106f60ac71dd0e8a655e32fd8c16613b"


def test_tasks_with_our_context(tmp_path):
    from muflow_native.context import create_local_context

    quiet = lambda *args: None  # noqa: E731
    datasets = ["x", "y", "z"]
    features = {}
    for i, name in enumerate(datasets):
        features[f"features:{i}"] = str(tmp_path / f"features{i}")
        ml_task.compute_features(create_local_context(features[f"features:{i}"], {"dataset_name": name},
                                                      progress_reporter=quiet))
    ml_task.train_model(create_local_context(str(tmp_path / "train"), {}, features, quiet))
    for i in range(3):
        ml_task.loo_cv(create_local_context(str(tmp_path / f"loo{i}"), {"leave_out_index": i, "datasets": datasets},
                                            features, quiet))
    report_deps = {"train": str(tmp_path / "train"), **{f"loo_cv:{i}": str(tmp_path / f"loo{i}") for i in range(3)}}
    context = create_local_context(str(tmp_path / "csv"), {"format": "csv"}, report_deps, quiet)
    ml_task.generate_report(context)
    rows = list(csv.reader(io.StringIO(context.read_file("report.csv").decode())))
    assert [row[1] for row in rows[1:4]] == datasets
    assert context.dependency("loo_cv:1").read_json("cv_result.json")["n_train"] == 2
