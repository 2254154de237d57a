"""Pipelines of the seed (muflow's PyPI page), built with either library."""


def ml_pipeline(lib):
    """The seed's ML pipeline."""
    return lib.Pipeline(
        name="ml.full_pipeline",
        display_name="ML Training Pipeline",
        steps={
            "features": lib.ForEach(task="ml.compute_features",
                                    over=lambda s, k: [{"dataset_name": ds} for ds in k["datasets"]]),
            "train": lib.Step(task="ml.train_model", after=["features"]),
            "loo_cv": lib.ForEach(task="ml.loo_cv", after=["features"],
                                  over=lambda s, k: [{"leave_out_index": i, "datasets": k["datasets"]}
                                                     for i in range(len(k["datasets"]))]),
            "reports": lib.ForEach(task="ml.generate_report", after=["train", "loo_cv"],
                                   over=lambda s, k: [{"format": f} for f in ("pdf", "xlsx", "csv")]),
        },
    )
