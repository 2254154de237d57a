"""The README's ML pipeline, doing real (small) work.

1. ``ml.compute_features`` (one node per dataset): the dataset's features and targets
   (synthetic, derived from its name; see :mod:`.ml_model`) -> ``features.json``.
2. ``ml.train_model``: ridge regression on the features of all its dependencies
   -> ``model.json``; ``ml.loo_cv`` (one node per fold): trains without dataset
   ``leave_out_index``, scores on it -> ``cv_result.json``.
3. ``ml.generate_report`` (one node per format: pdf, xlsx, csv) -> ``report.<format>``.

Task names, kwargs and the pipeline are muflow's example's, and the tasks declare no
parameters or outputs models, so plans and storage prefixes are muflow's too.

Usage::

    from muflow_native.examples.ml_task import ml_pipeline
    plan = ml_pipeline.build_plan("experiment:1", {"datasets": ["a", "b", "c"]})
"""

from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np

from ..pipeline import ForEach, Pipeline, Step
from ..registry import register_task
from . import ml_model
from .report_formats import csv_bytes, pdf_bytes, xlsx_bytes


REPORT_FORMATS = ("pdf", "xlsx", "csv")


def _job_index(key: str) -> int:
    """The job index in a dependency access key: ``"features:3"`` -> 3; a step with a
    single job is accessed without index (``"features"``) -> 0."""
    _, _, index = key.partition(":")
    return int(index) if index else 0


def _dependencies_in_job_order(context, step: str = "") -> List[Tuple[int, str]]:
    """(index, key) of the context's dependencies, of ``step`` only when given, in job
    order (``features:10`` after ``features:9``)."""
    keys = context.dependency_keys()
    if step:
        keys = [key for key in keys if key == step or key.startswith(step + ":")]
    return sorted((_job_index(key), key) for key in keys)


@register_task(name="ml.compute_features")
def compute_features(context):
    """Features and targets of dataset ``dataset_name``."""
    name = context.kwargs["dataset_name"]
    features, targets = ml_model.dataset_features(name)
    context.save_json(
        "features.json",
        {"dataset": name, "features": features.tolist(), "targets": targets.tolist()},
    )


@register_task(name="ml.train_model")
def train_model(context):
    """A ridge model on the features of every dependency."""
    datasets = [context.dependency(key).read_json("features.json") for _, key in _dependencies_in_job_order(context)]
    features, targets = ml_model.stack(datasets)
    model = ml_model.fit_ridge(features, targets)
    predictions = ml_model.predict(model, features)
    context.save_json(
        "model.json",
        {
            **model,
            "alpha": ml_model.DEFAULT_ALPHA,
            "n_datasets": len(datasets),
            "n_samples": int(len(targets)),
            "datasets": [d["dataset"] for d in datasets],
            "train_r2": ml_model.r2_score(targets, predictions),
            "train_rmse": ml_model.rmse(targets, predictions),
        },
    )


@register_task(name="ml.loo_cv")
def loo_cv(context):
    """Fold ``leave_out_index``: train on every other dataset, score on that one.
    With no other dataset there is nothing to train on: the scores are NaN."""
    leave_out = context.kwargs["leave_out_index"]
    train, held_out = [], None
    for index, key in _dependencies_in_job_order(context):
        dataset = context.dependency(key).read_json("features.json")
        if index == leave_out:
            held_out = dataset
        else:
            train.append(dataset)
    if held_out is None:
        raise ValueError(f"loo_cv: no dependency holds dataset {leave_out} (keys: {context.dependency_keys()})")

    test_features, test_targets = ml_model.stack([held_out])
    if train:
        model = ml_model.fit_ridge(*ml_model.stack(train))
        predictions = ml_model.predict(model, test_features)
        score = ml_model.r2_score(test_targets, predictions)
        error = ml_model.rmse(test_targets, predictions)
    else:
        score = error = math.nan
    context.save_json(
        "cv_result.json",
        {
            "fold": leave_out,
            "dataset": held_out["dataset"],
            "score": score,
            "rmse": error,
            "n_train": len(train),
        },
    )


def report_tables(model: dict, cv_results: List[dict]) -> dict:
    """The report's content: ``{"LOO CV": table, "Model": table}``."""
    scores = np.array([r["score"] for r in cv_results], dtype=float)
    mean_score = float(np.mean(scores)) if len(scores) else math.nan
    cv_table = [["fold", "dataset", "n_train", "r2", "rmse"]]
    cv_table += [[r["fold"], r["dataset"], r["n_train"], r["score"], r["rmse"]] for r in cv_results]
    cv_table.append(["mean", "", "", mean_score, ""])
    model_table = [["parameter", "value"], ["intercept", model["intercept"]]]
    model_table += [[f"weight_{i}", w] for i, w in enumerate(model["weights"])]
    model_table += [
        ["alpha", model["alpha"]],
        ["n_datasets", model["n_datasets"]],
        ["n_samples", model["n_samples"]],
        ["train_r2", model["train_r2"]],
        ["train_rmse", model["train_rmse"]],
    ]
    return {"LOO CV": cv_table, "Model": model_table}


def _text_lines(tables: dict) -> List[str]:
    def cell(value) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    lines = ["ML training report", ""]
    for title, table in tables.items():
        lines.append(title)
        lines += ["    " + "  ".join(f"{cell(v):>14}" for v in row) for row in table]
        lines.append("")
    return lines


def render_report(fmt: str, model: dict, cv_results: List[dict]) -> bytes:
    """The report as ``fmt`` ("pdf", "xlsx" or "csv") bytes."""
    tables = report_tables(model, cv_results)
    if fmt == "csv":
        return csv_bytes(tables["LOO CV"])
    if fmt == "xlsx":
        return xlsx_bytes(tables)
    if fmt == "pdf":
        return pdf_bytes(_text_lines(tables))
    raise ValueError(f"Unknown report format {fmt!r}; expected one of {REPORT_FORMATS}")


@register_task(name="ml.generate_report")
def generate_report(context):
    """The model and the cross-validation folds as ``report.<format>``."""
    fmt = context.kwargs["format"]
    model = context.dependency("train").read_json("model.json")
    cv_results = [
        context.dependency(key).read_json("cv_result.json")
        for _, key in _dependencies_in_job_order(context, "loo_cv")
    ]
    context.save_file(f"report.{fmt}", render_report(fmt, model, cv_results))


def _build_ml_pipeline():
    return Pipeline(
        name="ml.full_pipeline",
        display_name="ML Training Pipeline",
        steps={
            "features": ForEach(
                task="ml.compute_features",
                over=lambda subject_key, kwargs: [{"dataset_name": ds} for ds in kwargs["datasets"]],
            ),
            "train": Step(task="ml.train_model", after=["features"]),
            "loo_cv": ForEach(
                task="ml.loo_cv",
                after=["features"],
                over=lambda subject_key, kwargs: [
                    {"leave_out_index": i, "datasets": kwargs["datasets"]} for i in range(len(kwargs["datasets"]))
                ],
            ),
            "reports": ForEach(
                task="ml.generate_report",
                after=["train", "loo_cv"],
                over=lambda subject_key, kwargs: [{"format": fmt} for fmt in REPORT_FORMATS],
            ),
        },
    )


def __getattr__(name: str):
    # ml_pipeline is built on first access so that the tasks above stay importable
    # without the pipeline module.
    if name == "ml_pipeline":
        pipeline = _build_ml_pipeline()
        globals()["ml_pipeline"] = pipeline
        return pipeline
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
