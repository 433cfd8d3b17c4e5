"""invoke tasks: the dog-breed classifier from data to a deployed endpoint.

    invoke train deploy            # the whole loop on the embedded local emulator (default)
    invoke train deploy --target aws   (each task takes --target; AWS only when asked for)
    invoke predict --image dog.jpg

Each task parses its arguments and calls `dogops`; errors print one clear line and exit non-zero.
"""

from __future__ import annotations

import functools
import signal
import sys

from botocore.exceptions import BotoCoreError, ClientError
from invoke import Exit, task

from dogops import config
from dogops.errors import UserError

TARGET_HELP = "local (embedded emulator, the default) or aws (real AWS, billed)"
REGION_HELP = "aws: region to use (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region)"
YES_HELP = "aws: apply the reviewed plan without asking (CI); local never asks"
ENV_HELP = ("environment, e.g. dev or prod: its own state, tfvars and resource names "
            "(default: DOGOPS_ENV, else the default environment)")


def user_errors(function):
    """Turn UserError (and Ctrl-C) into a message and a non-zero exit, never a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        # `kill` gets the same clean-up as Ctrl-C (the emulator override file, temp var files)
        signal.signal(signal.SIGTERM, _terminated)
        try:
            return function(*args, **kwargs)
        except UserError as err:
            raise Exit(f"error: {err.message}", code=err.exit_code) from None
        except (BotoCoreError, ClientError) as err:  # an AWS/emulator call that failed
            raise Exit(f"error: {err}", code=1) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper


def _terminated(signum, frame):
    raise KeyboardInterrupt


def _select_env(env: str | None) -> str:
    """--env for this run (validated before anything starts); DOGOPS_ENV when not given."""
    import os

    if env is not None:
        os.environ[config.ENV_VARIABLE] = config.check_env(env)
    return config.current_env()


def _backend(target: str, start_emulator: bool = True, region: str | None = None,
             yes: bool = False):
    from dogops.backend import for_target

    return for_target(config.check_target(target), start_emulator=start_emulator,
                      region=region, assume_yes=yes)


def _int(name: str, value, minimum: int = 1) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"--{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise UserError(f"--{name} must be at least {minimum}")
    return number


def _float(name: str, value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"--{name} must be a number, got {value!r}") from None
    if not number > 0:
        raise UserError(f"--{name} must be positive")
    return number


@task
@user_errors
def package(c):
    """Build the deterministic Lambda zip (build/lambda_function.zip)."""
    from dogops.backend import build_lambda_zip
    from dogops.lambda_package import base64_sha256

    path = build_lambda_zip()
    print(f"{path} {path.stat().st_size} bytes sha256={base64_sha256(path)}")


@task(help={
    "source": "dataset: an http(s) zip URL, a zip file, an ImageFolder folder, or 'sample' "
              "(digits). Default: the Udacity dogImages URL on aws, 'sample' on local",
    "sha256": "expected sha256 of the archive (verified before unpacking)",
    "target": TARGET_HELP, "region": REGION_HELP, "yes": YES_HELP, "env": ENV_HELP,
})
@user_errors
def data(c, source=None, sha256=None, target=config.DEFAULT_TARGET, region=None, yes=False,
         env=None):
    """Fetch the dataset (checksum verified), unpack, and sync it to s3://<bucket>/data/."""
    from dogops import dataset

    config.check_target(target)
    _select_env(env)
    # credentials before a 1 GB download
    backend = _backend(target, region=region, yes=yes) if target == "aws" else None
    source = source or ("sample" if target == "local" else dataset.UDACITY_DOG_IMAGES_URL)
    if source == "sample":
        from dogops.sample_data import make_digits_imagefolder

        root = make_digits_imagefolder(config.paths(target).state_dir / "sample-digits")
    else:  # download + verify before anything is started or created
        root = dataset.prepare(source, config.paths(target).work_dir, sha256)
    backend = backend or _backend(target, region=region, yes=yes)
    bucket = str(backend.ensure_stack()["bucket_name"])
    result = dataset.sync(backend.client("s3"), root, bucket)
    print(f"s3://{bucket}/{config.DATA_PREFIX}: {result.uploaded} uploaded, {result.skipped} "
          f"unchanged, {result.deleted} stale removed")


@task(help={
    "target": TARGET_HELP,
    "instances": "number of instances (local: processes under torchrun); > 1 runs DDP",
    "instance-type": "SageMaker instance type for --target aws (default ml.g5.xlarge)",
    "spot": "aws: managed spot training with checkpoints in s3://<bucket>/checkpoints/",
    "tune": "aws: hyperparameter tuning over learning rate 0.001-0.1 and batch size 32-512",
    "max-jobs": "tuning: total training jobs (default 4)",
    "max-parallel-jobs": "tuning: jobs at a time (default 2)",
    "epochs": "training epochs", "learning-rate": "learning rate",
    "batch-size": "global batch per optimiser step, split over all processes/GPUs",
    "arch": "resnet18 | resnet34 | resnet50", "image-size": "input image size in pixels",
    "pretrained": "ImageNet weights: imagenet | none | path to a weights file",
    "force": "train again even when data, code and hyperparameters are unchanged",
    "data": "local: ImageFolder folder to upload when the bucket has no data yet",
    "region": REGION_HELP, "yes": YES_HELP, "env": ENV_HELP,
})
@user_errors
def train(c, target=config.DEFAULT_TARGET, instances=1, instance_type="ml.g5.xlarge", spot=False,
          tune=False, max_jobs=4, max_parallel_jobs=2, epochs=None, batch_size=None,
          learning_rate=None, arch=None, image_size=None, pretrained=None, force=False,
          data=None, region=None, yes=False, env=None):
    """Train the classifier and record its model.tar.gz URI for `deploy`."""
    from pathlib import Path

    from dogops.train import TrainRequest
    from dogops.train import train as run_train

    config.check_target(target)
    _select_env(env)
    hyperparameters = {"epochs": _int("epochs", epochs), "batch-size": _int("batch-size",
                                                                             batch_size),
                       "learning-rate": _float("learning-rate", learning_rate), "arch": arch,
                       "image-size": _int("image-size", image_size, 8), "pretrained": pretrained}
    request = TrainRequest(target=target, hyperparameters=hyperparameters,
                           instances=_int("instances", instances), instance_type=instance_type,
                           spot=spot, tune=tune, max_jobs=_int("max-jobs", max_jobs),
                           max_parallel_jobs=_int("max-parallel-jobs", max_parallel_jobs),
                           force=force, sample_data=Path(data) if data else None)
    run_train(request, _backend(target, region=region, yes=yes))


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "env": ENV_HELP,
            "job": "training job whose report to fetch (default: the recorded model's job)"})
@user_errors
def report(c, target=config.DEFAULT_TARGET, job=None, region=None, env=None):
    """Fetch the latest training job's evaluation report (report.md, curves, confusion matrix)."""
    from dogops.report import describe, fetch_report

    _select_env(env)
    print(describe(fetch_report(_backend(target, region=region), job)))


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "yes": YES_HELP, "env": ENV_HELP,
            "model": "model version to deploy (see `invoke models`); default: the recorded one",
            "force": "deploy --model N even when it is not approved (approves it)"})
@user_errors
def deploy(c, target=config.DEFAULT_TARGET, region=None, yes=False, env=None, model=None,
           force=False):
    """terraform apply with a model version, then verify the endpoint serves it.
    AWS: preflight, then the plan with its hourly cost, then a confirmation (--yes for CI)."""
    from dogops.deploy import deploy as run_deploy

    config.check_target(target)
    version = _int("model", model)  # bad input fails before anything starts
    _select_env(env)
    run_deploy(_backend(target, region=region, yes=yes), model=version, force=force)


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "env": ENV_HELP})
@user_errors
def models(c, target=config.DEFAULT_TARGET, region=None, env=None):
    """List the model versions (metrics, approval, artifact); the live one is marked *."""
    from dogops.release import list_models

    _select_env(env)
    print(list_models(_backend(target, region=region)))


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "yes": YES_HELP, "env": ENV_HELP})
@user_errors
def rollback(c, target=config.DEFAULT_TARGET, region=None, yes=False, env=None):
    """Deploy the approved version before the live one (verified like deploy)."""
    from dogops.deploy import print_outputs
    from dogops.release import rollback as run_rollback

    _select_env(env)
    print_outputs(run_rollback(_backend(target, region=region, yes=yes)))


@task(help={"image": "path of a JPEG/PNG image", "url": "http(s) URL of an image",
            "top-k": "how many breeds to print (1-20)", "target": TARGET_HELP,
            "region": REGION_HELP, "env": ENV_HELP},
      auto_shortflags=False)  # long flags only: -t means --target everywhere else
@user_errors
def predict(c, image=None, url=None, top_k=None, target=config.DEFAULT_TARGET, region=None,
            env=None):
    """Call the deployed Lambda alias with an image and print the top breeds."""
    from dogops.predict import build_payload, format_predictions, invoke_alias

    config.check_target(target)
    _select_env(env)
    payload = build_payload(image, url, _int("top-k", top_k))  # bad input fails before start-up
    predictions = invoke_alias(_backend(target, region=region), payload)
    print(format_predictions(predictions))


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "env": ENV_HELP,
            "plan-json": "also write `terraform show -json` of the plan here (PR reviews)"})
@user_errors
def plan(c, target=config.DEFAULT_TARGET, region=None, env=None, plan_json=None):
    """terraform plan with the recorded model; writes build/plan-review.md (changes, IAM
    diffs, hourly and monthly cost estimate). Exit 0 whether or not there are changes."""
    from pathlib import Path

    from dogops.deploy import plan as run_plan

    config.check_target(target)
    _select_env(env)
    changed = run_plan(_backend(target, region=region), Path(plan_json) if plan_json else None)
    print("changes pending: run `invoke deploy`" if changed else "no changes")


@task(help={"target": TARGET_HELP, "region": REGION_HELP, "env": ENV_HELP})
@user_errors
def destroy(c, target=config.DEFAULT_TARGET, region=None, env=None):
    """Destroy everything Terraform created; local also stops the endpoint host and emulator."""
    from dogops.deploy import destroy as run_destroy

    _select_env(env)
    run_destroy(_backend(target, region=region))


@task(help={"target": TARGET_HELP,
            "timeout": "seconds to wait for the host's artifact (default 7200)",
            "train-args": "extra training/train.py arguments, e.g. '--epochs 5 --arch resnet34'",
            "region": REGION_HELP, "yes": YES_HELP, "env": ENV_HELP})
@user_errors
def ec2_train(c, target=config.DEFAULT_TARGET, timeout=7200, train_args=None, region=None,
              yes=False, env=None):
    """Turn the EC2 training host on, wait for its model artifact, turn it off; record it."""
    from dogops.ec2 import ec2_train as run_ec2_train

    config.check_target(target)
    _select_env(env)
    run_ec2_train(_backend(target, region=region, yes=yes), timeout_s=_int("timeout", timeout),
                  train_args=train_args)


@task(help={"target": TARGET_HELP, "region": REGION_HELP,
            "instance-type": "SageMaker training instance type to check (default ml.g5.xlarge)",
            "instances": "training instances per job (default 1)",
            "max-parallel-jobs": "tuning jobs at a time to check room for (default 1: no tuning)",
            "spot": "check the spot training and spot EC2 quotas"})
@user_errors
def preflight(c, target="aws", region=None, instance_type="ml.g5.xlarge", instances=1,
              max_parallel_jobs=1, spot=False):
    """Check the account before spending: credentials, quotas (Lambda, SageMaker, EC2 G),
    instance types, DLC images and the Deep Learning AMI in the region. Cheap to re-run."""
    from dogops.preflight import run_for_task

    run_for_task(_backend(target, region=region), instance_type,
                 _int("instances", instances), _int("max-parallel-jobs", max_parallel_jobs),
                 spot)


@task(help={"stop": "stop the emulator instead of starting it"})
@user_errors
def emulator(c, stop=False):
    """Start (or with --stop, stop) the local AWS emulator on 127.0.0.1:4566."""
    from dogops.backend import emulator_port
    from dogops.local_aws import emulator as local_emulator

    state_dir = config.paths("local").state_dir
    if stop:
        stopped = local_emulator.stop(emulator_port(), state_dir)
        print("emulator stopped" if stopped else "emulator was not running")
    else:
        print(f"emulator running at {local_emulator.start(emulator_port(), state_dir).url}")


@task(help={"target": TARGET_HELP,
            "state-bucket": "state bucket name (default dog-breeds-tfstate-<account>-<region>)",
            "yes": "create the bucket without asking (aws; for CI)"})
@user_errors
def bootstrap(c, target=config.DEFAULT_TARGET, state_bucket=None, yes=False):
    """Remote Terraform state: the S3 state bucket, backend settings, local states migrated.

    Shows the bucket before creating it; idempotent (a second run changes nothing)."""
    from dogops.bootstrap import bootstrap as run_bootstrap

    config.check_target(target)
    run_bootstrap(_backend(target), state_bucket=state_bucket, yes=yes)


@task(help={"from": "environment whose live model to deploy (e.g. dev)",
            "to": "environment to deploy it into (e.g. prod)", "target": TARGET_HELP},
      auto_shortflags=False)  # long flags only: -t means --target everywhere else
@user_errors
def promote(c, from_=None, to=None, target=config.DEFAULT_TARGET):
    """Deploy the model live in one environment into another: --from dev --to prod."""
    from dogops.environments import promote as run_promote

    if not from_ or not to:
        raise UserError("name both environments: invoke promote --from dev --to prod")
    config.check_target(target)
    config.check_env(from_), config.check_env(to)
    run_promote(target, from_, to)


@task(help={"lock-id": "the lock ID printed by the failed run", "target": TARGET_HELP,
            "env": ENV_HELP})
@user_errors
def unlock(c, lock_id=None, target=config.DEFAULT_TARGET, env=None):
    """Release the state lock of a crashed run (terraform force-unlock).

    Only when that run is really gone: a live run's lock protects the state."""
    if not lock_id:
        raise UserError("--lock-id is required (the ID the locked run printed)")
    config.check_target(target)
    _select_env(env)
    with _backend(target).terraform(quiet=True) as tf:
        tf.force_unlock(lock_id)
    print(f"lock {lock_id} released")


@task
@user_errors
def demo(c):
    """The whole local loop in one go: emulator, sample data, tiny training, deploy, predict."""
    from dogops.demo import run_demo

    run_demo()


if __name__ == "__main__":  # pragma: no cover - `invoke` is the entry point
    sys.exit("run these with `invoke <task>`; see `invoke --list`")
