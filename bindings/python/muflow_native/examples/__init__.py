"""Example tasks and pipelines. Importing a submodule registers its tasks:
``muflow_native.examples.ml_task`` is the README's ML pipeline."""
