"""The snapshot generator against recorded Price List GetProducts responses."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from dogops import pricing

FIXTURES = Path(__file__).parent / "fixtures" / "pricelist"


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def client():
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def test_fetch_picks_on_demand_prices_by_usage_type(client):
    with Stubber(client) as stub:
        expected = {"ServiceCode": ANY, "Filters": ANY, "FormatVersion": "aws_v1"}
        for name in ("sagemaker-ml.m5.large", "sagemaker-ml.g5.xlarge", "ec2-g5.xlarge",
                     "lambda", "ebs-gp3"):
            stub.add_response("get_products", recorded(name), expected)
        prices = pricing.fetch(client, "us-east-1", sagemaker_types=["ml.m5.large",
                                                                      "ml.g5.xlarge"],
                               ec2_types=["g5.xlarge"])
        stub.assert_no_pending_responses()
    assert prices.live and prices.source.startswith("AWS Price List API")
    assert prices.get("sagemaker_hosting_hour", "ml.m5.large") == pytest.approx(0.115)
    # the spot training and notebook products of the same instance are not taken
    assert prices.get("sagemaker_training_hour", "ml.g5.xlarge") == pytest.approx(1.408)
    assert prices.get("ec2_hour", "g5.xlarge") == pytest.approx(1.006)
    # x86 provisioned concurrency, not the ARM or on-demand duration price
    assert prices.get("lambda_provisioned_gb_second", "x86_64") == pytest.approx(0.0000041667)
    assert prices.get("ebs_gb_month", "gp3") == pytest.approx(0.08)


def test_fetch_sends_term_match_filters_for_the_region(client):
    with Stubber(client) as stub:
        stub.add_response("get_products", recorded("ec2-g5.xlarge"), {
            "ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "Filters": [
                {"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in {
                    "regionCode": "eu-west-1", "instanceType": "g5.xlarge",
                    "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                    "capacitystatus": "Used"}.items()]})
        stub.add_response("get_products", {"PriceList": []}, None)
        stub.add_response("get_products", {"PriceList": []}, None)
        prices = pricing.fetch(client, "eu-west-1", sagemaker_types=[], ec2_types=["g5.xlarge"])
    assert prices.region == "eu-west-1" and prices.get("ec2_hour", "g5.xlarge") == 1.006
    assert prices.get("ebs_gb_month", "gp3") is None  # nothing recorded: no made-up figure


def test_snapshot_document_round_trips_through_load(client, tmp_path):
    live = pricing.Prices("us-east-1", "API", "2026-12-01",
                          {"ec2_hour": {"g5.xlarge": 1.006}, "ebs_gb_month": {}})
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(pricing.snapshot_document([live])))
    loaded = pricing.load_snapshot("us-east-1", path)
    assert loaded.as_of == "2026-12-01" and loaded.get("ec2_hour", "g5.xlarge") == 1.006
    assert not loaded.live and "snapshot of 2026-12-01" in loaded.label()


def test_repo_snapshot_is_dated_sourced_and_covers_the_defaults():
    prices = pricing.load_snapshot("us-east-1")
    assert prices.as_of and "aws.amazon.com" in prices.source
    for table, key in (("sagemaker_hosting_hour", "ml.m5.large"),
                       ("sagemaker_training_hour", "ml.g5.xlarge"), ("ec2_hour", "g5.xlarge"),
                       ("lambda_provisioned_gb_second", "x86_64"), ("ebs_gb_month", "gp3")):
        assert prices.get(table, key) > 0
