"""Hourly prices for the plan review: the AWS Price List API, or the dated snapshot in the repo.

`load_snapshot()` reads dogops/data/prices-snapshot.json (its date and source are printed with
every estimate). `fetch()` asks the Price List API (`pricing` GetProducts) for the same
figures; `python -m dogops.pricing --write` regenerates the snapshot from it:

    python -m dogops.pricing --write --regions us-east-1,eu-west-1
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

SNAPSHOT = Path(__file__).resolve().parent / "data" / "prices-snapshot.json"
PRICING_REGION = "us-east-1"  # the Price List API's endpoint region
# The instance types this project uses (defaults and documented alternatives).
SAGEMAKER_TYPES = ("ml.m5.large", "ml.g4dn.xlarge", "ml.g5.xlarge")
EC2_TYPES = ("g4dn.xlarge", "g5.xlarge")
TABLES = ("sagemaker_hosting_hour", "sagemaker_training_hour", "ec2_hour",
          "lambda_provisioned_gb_second", "ebs_gb_month")


@dataclass
class Prices:
    region: str
    source: str
    as_of: str
    tables: dict[str, dict[str, float]] = field(default_factory=dict)
    live: bool = False  # True: from the Price List API just now

    def get(self, table: str, key: str) -> float | None:
        return self.tables.get(table, {}).get(key)

    def label(self, short: bool = False) -> str:
        kind = "AWS Price List API" if self.live else "price snapshot"
        return f"{kind} of {self.as_of}" + ("" if short else f" ({self.source})")


def load_snapshot(region: str, path: Path = SNAPSHOT) -> Prices:
    data = json.loads(Path(path).read_text())
    tables = data.get("regions", {}).get(region, {})
    return Prices(region, data["source"], data["as_of"],
                  {name: dict(tables.get(name, {})) for name in TABLES})


# -- Price List API ------------------------------------------------------------------------------
def _products(client, service: str, filters: Mapping[str, str]) -> list[dict]:
    flt = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()]
    items: list[dict] = []
    for page in client.get_paginator("get_products").paginate(ServiceCode=service, Filters=flt,
                                                              FormatVersion="aws_v1"):
        items.extend(json.loads(p) if isinstance(p, str) else p for p in page["PriceList"])
    return items


def on_demand_price(products: Iterable[dict], usagetype: re.Pattern) -> float | None:
    """USD per unit of the product whose usagetype matches, from its OnDemand terms."""
    for product in products:
        if not usagetype.search(product.get("product", {}).get("attributes", {})
                                .get("usagetype", "")):
            continue
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None and float(usd) > 0:
                    return float(usd)
    return None


def fetch(client, region: str, sagemaker_types: Iterable[str] = SAGEMAKER_TYPES,
          ec2_types: Iterable[str] = EC2_TYPES) -> Prices:
    tables: dict[str, dict[str, float]] = {name: {} for name in TABLES}
    for instance_type in sagemaker_types:
        products = _products(client, "AmazonSageMaker",
                             {"regionCode": region, "instanceName": instance_type})
        for table, kind in (("sagemaker_hosting_hour", "Host"),
                            ("sagemaker_training_hour", "Train")):
            price = on_demand_price(products, re.compile(
                rf"(^|-){kind}:{re.escape(instance_type)}$"))
            if price is not None:
                tables[table][instance_type] = price
    for instance_type in ec2_types:
        products = _products(client, "AmazonEC2", {
            "regionCode": region, "instanceType": instance_type, "operatingSystem": "Linux",
            "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"})
        price = on_demand_price(products, re.compile(
            rf"(^|-)BoxUsage:{re.escape(instance_type)}$"))
        if price is not None:
            tables["ec2_hour"][instance_type] = price
    price = on_demand_price(_products(client, "AWSLambda", {"regionCode": region}),
                            re.compile(r"(^|-)Lambda-Provisioned-Concurrency$"))
    if price is not None:
        tables["lambda_provisioned_gb_second"]["x86_64"] = price
    price = on_demand_price(_products(client, "AmazonEC2", {
        "regionCode": region, "volumeApiName": "gp3", "productFamily": "Storage"}),
        re.compile(r"(^|-)EBS:VolumeUsage\.gp3$"))
    if price is not None:
        tables["ebs_gb_month"]["gp3"] = price
    return Prices(region, "AWS Price List API GetProducts, on-demand",
                  time.strftime("%Y-%m-%d", time.gmtime()), tables, live=True)


def snapshot_document(prices: Iterable[Prices]) -> dict:
    prices = list(prices)
    return {
        "about": json.loads(SNAPSHOT.read_text())["about"] if SNAPSHOT.exists() else "",
        "as_of": max(p.as_of for p in prices),
        "source": "AWS Price List API GetProducts (on-demand, Linux, shared tenancy)",
        "currency": "USD",
        "regions": {p.region: {k: v for k, v in p.tables.items() if v} for p in prices},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="regenerate the price snapshot")
    parser.add_argument("--regions", default="us-east-1")
    parser.add_argument("--write", action="store_true", help=f"write {SNAPSHOT}")
    args = parser.parse_args(argv)
    import boto3

    client = boto3.client("pricing", region_name=PRICING_REGION)
    document = snapshot_document(fetch(client, r.strip()) for r in args.regions.split(","))
    text = json.dumps(document, indent=2) + "\n"
    if args.write:
        SNAPSHOT.write_text(text)
        print(f"wrote {SNAPSHOT}")
    else:
        print(text)


if __name__ == "__main__":
    main()
