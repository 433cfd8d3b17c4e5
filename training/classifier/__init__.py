"""Training and serving core shared by SageMaker, the EC2 host and local runs.

Self-contained (shipped as SageMaker ``source_dir`` and inside ``model.tar.gz``): it imports
nothing from the ``dogops`` tooling.
"""
