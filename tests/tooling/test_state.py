import json

import pytest

from dogops import config, state
from dogops.errors import UserError


def test_unknown_target_is_a_user_error():
    with pytest.raises(UserError, match="unknown target 'prod'.*local, aws"):
        config.check_target("prod")


def test_real_tfvars_locations_keep_emulator_uris_out_of_the_aws_root():
    assert config.paths("aws").tfvars_file == config.TERRAFORM_DIR / "aws.auto.tfvars.json"
    local = config.paths("local")
    assert config.TERRAFORM_DIR not in local.tfvars_file.parents
    assert local.terraform_state is not None and config.paths("aws").terraform_state is None


def test_record_model_writes_state_and_tfvars(state_root):
    state.record_model("local", "s3://b/training-jobs/j/output/model.tar.gz", fingerprint="f1",
                       job_name="j")
    recorded = state.load("local")
    assert recorded["fingerprint"] == "f1" and recorded["job_name"] == "j"
    tfvars = json.loads(config.paths("local").tfvars_file.read_text())
    assert tfvars == {"model_data_url": "s3://b/training-jobs/j/output/model.tar.gz"}
    # a second record keeps other tfvars keys and replaces the model
    state.write_json_atomic(config.paths("local").tfvars_file, {**tfvars, "min_capacity": 2})
    state.record_model("local", "s3://b/new.tar.gz", source="ec2")
    assert state.read_tfvars("local") == {"model_data_url": "s3://b/new.tar.gz", "min_capacity": 2}
    # the old job's fingerprint must not vouch for the new artifact
    assert state.load("local") == {"model_data_url": "s3://b/new.tar.gz", "source": "ec2"}
    state.forget("local")
    assert state.load("local") == {} and state.read_tfvars("local") == {}


def test_corrupt_state_file_is_a_clear_error(state_root):
    path = config.paths("local").state_file
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        state.load("local")


def test_interrupted_write_leaves_the_old_file(state_root, monkeypatch):
    path = config.paths("local").state_file
    state.save("local", {"model_data_url": "s3://b/old"})

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(state.json, "dump", explode)
    with pytest.raises(KeyboardInterrupt):
        state.save("local", {"model_data_url": "s3://b/new"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"model_data_url": "s3://b/old"}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_fingerprint_follows_data_code_and_hyperparameters(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("print('v1')\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "x.pyc").write_bytes(b"junk")
    data = state.data_digest([("data/train/001.a/1.png", "e1")])
    base = state.fingerprint(data, state.code_digest(code), {"epochs": 3})
    assert base == state.fingerprint(data, state.code_digest(code), {"epochs": 3})
    (code / "__pycache__" / "x.pyc").write_bytes(b"other junk")  # caches do not count
    assert base == state.fingerprint(data, state.code_digest(code), {"epochs": 3})
    assert base != state.fingerprint(data, state.code_digest(code), {"epochs": 4})
    other_data = state.data_digest([("data/train/001.a/1.png", "e2")])
    assert base != state.fingerprint(other_data, state.code_digest(code), {"epochs": 3})
    (code / "train.py").write_text("print('v2')\n")
    assert base != state.fingerprint(data, state.code_digest(code), {"epochs": 3})
