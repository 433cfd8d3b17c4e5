"""`invoke report`: fetch a training job's evaluation report and say where it is.

The training script writes metrics.json, report.md and its pictures into the job's output data
dir, which SageMaker (and the local job runner) uploads as `output.tar.gz` beside the job's
`model.tar.gz`. This downloads that archive for the recorded job (or the one named), unpacks it
under build/reports/<target>/<job>/ and prints the paths.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path

from dogops import config, state
from dogops.backend import Backend
from dogops.errors import UserError

REPORT_FILES = ("report.md", "training_curve.png", "confusion_matrix.png",
                "per_class_accuracy.png", "metrics.json")


@dataclass
class Report:
    job_name: str
    directory: Path

    @property
    def summary(self) -> Path:
        return self.directory / "report.md"


def reports_dir(target: str) -> Path:
    return config.REPO_ROOT / "build" / "reports" / target


def output_archive_url(sagemaker_client, job_name: str) -> str:
    """s3://.../<job>/output/output.tar.gz, next to the job's model artifact."""
    from botocore.exceptions import ClientError

    try:
        job = sagemaker_client.describe_training_job(TrainingJobName=job_name)
    except ClientError as err:
        raise UserError(f"training job {job_name!r} not found: "
                        f"{err.response['Error'].get('Message', err)}") from None
    if job.get("TrainingJobStatus") != "Completed":
        raise UserError(f"training job {job_name} is {job.get('TrainingJobStatus')}: it has no "
                        "report yet", exit_code=1)
    model_url = job["ModelArtifacts"]["S3ModelArtifacts"]
    return model_url.rsplit("/", 1)[0] + "/output.tar.gz"


def unpack(archive: Path, destination: Path) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(destination, filter="data")  # no absolute paths, links or ../
    except (tarfile.TarError, OSError) as err:
        raise UserError(f"{archive} is not a readable output archive: {err}", 1) from None


def fetch_report(backend: Backend, job_name: str | None = None) -> Report:
    job = job_name or state.load(backend.target).get("job_name")
    if not job:
        raise UserError(f"no training job is recorded for target {backend.target!r}: run "
                        "`invoke train` first, or pass --job NAME")
    url = output_archive_url(backend.client("sagemaker"), job)
    bucket, _, key = url.removeprefix("s3://").partition("/")
    destination = reports_dir(backend.target) / job
    archive = destination.parent / f"{job}.output.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    from botocore.exceptions import ClientError

    try:
        backend.client("s3").download_file(bucket, key, str(archive))
    except ClientError:
        raise UserError(f"{url} does not exist: the job wrote no output data (trained before "
                        "reports existed?)", exit_code=1) from None
    unpack(archive, destination)
    archive.unlink()
    if not (destination / "report.md").is_file():
        raise UserError(f"{url} holds no report.md (a job from before reports existed); its "
                        f"files are in {destination}", exit_code=1)
    return Report(job, destination)


def describe(report: Report) -> str:
    lines = [f"report of training job {report.job_name}:"]
    lines += [f"  {report.directory / name}" for name in REPORT_FILES
              if (report.directory / name).is_file()]
    return "\n".join(lines)
