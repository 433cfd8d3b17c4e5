"""Tooling behind tasks.py: emulator, packaging, training jobs, Terraform, deploy, predict."""
