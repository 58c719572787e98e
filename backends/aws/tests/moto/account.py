"""Makes moto's fresh account look like a fresh AWS account for the AWS backend's tests.

moto's default VPCs have no internet gateway; AWS's do, so their subnets are public. This
attaches one to the default VPC of every region and routes 0.0.0.0/0 to it from the main
route table. Safe to run again. `cargo xtask test` runs it after starting moto:

    python account.py http://127.0.0.1:PORT
"""

import sys

import boto3


def client(endpoint: str, region: str):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def make_default_vpc_public(endpoint: str, region: str) -> None:
    ec2 = client(endpoint, region)
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    main = ec2.describe_route_tables(
        Filters=[{"Name": "association.main", "Values": ["true"]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["RouteTables"][0]
    if any(r.get("GatewayId", "").startswith("igw-") for r in main["Routes"]):
        return
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)


if __name__ == "__main__":
    endpoint = sys.argv[1]
    regions = client(endpoint, "us-east-1").describe_regions()["Regions"]
    for region in (r["RegionName"] for r in regions):
        make_default_vpc_public(endpoint, region)
