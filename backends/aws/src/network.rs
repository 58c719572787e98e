//! Where instances go: the VPC of a region (`vpc_ids`, `vpc_name` or the default VPC) and its
//! subnets that fit `public_ips` — public subnets route to an internet gateway; private ones
//! need outbound internet through NAT, a transit gateway or peering. Messages are dstack's.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::RouteTable;
use dstack_core::config::backends::AwsBackendConfig;
use dstack_core::error::Result;
use dstack_core::{BackendError, ErrorKind};

use crate::client::filter;
use crate::error::from_sdk;

/// A VPC and its eligible subnets, each with its availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub vpc_id: String,
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub zone: String,
}

fn no_network(message: String) -> BackendError {
    BackendError::new(ErrorKind::InvalidConfig, message)
}

/// The VPC and subnets to use in `region`, limited to `zones` when given.
pub async fn resolve(
    client: &Client,
    config: &AwsBackendConfig,
    region: &str,
    zones: Option<&[String]>,
) -> Result<Network> {
    let public = config.public_ips.unwrap_or(true);
    if let Some(vpc_id) = config.vpc_ids.as_ref().and_then(|ids| ids.get(region)) {
        if !vpc_exists(client, vpc_id).await? {
            return Err(no_network(format!("Failed to find VPC {vpc_id} in region {region}")));
        }
        let subnets = eligible_subnets(client, vpc_id, public, zones).await?;
        if !subnets.is_empty() {
            return Ok(Network { vpc_id: vpc_id.clone(), subnets });
        }
        return Err(no_network(if public {
            format!("Failed to find public subnets for VPC {vpc_id}")
        } else {
            format!(
                "Failed to find private subnets for VPC {vpc_id} with outbound internet access. \
                 Ensure you've setup NAT Gateway, Transit Gateway, or other mechanism \
                 to provide outbound internet access from private subnets."
            )
        }));
    }
    if config.vpc_ids.is_some() && config.default_vpcs == Some(false) {
        return Err(no_network(format!("No VPC ID configured for region {region}")));
    }
    let (vpc_id, which) = match &config.vpc_name {
        Some(name) => match vpc_by(client, "tag:Name", name).await? {
            Some(id) => (id, format!("VPC {name}")),
            None => return Err(no_network(format!("No VPC named {name} in region {region}"))),
        },
        None => match vpc_by(client, "isDefault", "true").await? {
            Some(id) => (id, "default VPC".to_owned()),
            None => return Err(no_network(format!("No default VPC in region {region}"))),
        },
    };
    let subnets = eligible_subnets(client, &vpc_id, public, zones).await?;
    if subnets.is_empty() {
        let kind = if public { "public subnets" } else { "private subnets with NAT" };
        return Err(no_network(format!("Failed to find {kind} for {which} in region {region}")));
    }
    Ok(Network { vpc_id, subnets })
}

async fn vpc_by(client: &Client, filter_name: &str, value: &str) -> Result<Option<String>> {
    let answer = client
        .describe_vpcs()
        .filters(filter(filter_name, &[value]))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeVpcs", e))?;
    Ok(answer.vpcs().first().and_then(|vpc| vpc.vpc_id()).map(str::to_owned))
}

async fn vpc_exists(client: &Client, vpc_id: &str) -> Result<bool> {
    Ok(vpc_by(client, "vpc-id", vpc_id).await?.is_some())
}

async fn eligible_subnets(
    client: &Client,
    vpc_id: &str,
    public: bool,
    zones: Option<&[String]>,
) -> Result<Vec<Subnet>> {
    let mut request = client.describe_subnets().filters(filter("vpc-id", &[vpc_id]));
    if let Some(zones) = zones {
        let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
        request = request.filters(filter("availability-zone", &zones));
    }
    let answer = request.send().await.map_err(|e| from_sdk("DescribeSubnets", e))?;
    let mut eligible = Vec::new();
    for subnet in answer.subnets() {
        let (Some(id), Some(zone)) = (subnet.subnet_id(), subnet.availability_zone()) else {
            continue;
        };
        let tables = route_tables(client, vpc_id, id).await?;
        let fits = if public {
            tables.iter().any(routes_to_internet_gateway)
        } else {
            tables.iter().any(routes_to_internet_privately)
        };
        if fits {
            eligible.push(Subnet { id: id.to_owned(), zone: zone.to_owned() });
        }
    }
    Ok(eligible)
}

/// The route tables that route `subnet_id`: its explicitly associated ones, or else the VPC's
/// main table.
async fn route_tables(client: &Client, vpc_id: &str, subnet_id: &str) -> Result<Vec<RouteTable>> {
    let explicit = client
        .describe_route_tables()
        .filters(filter("association.subnet-id", &[subnet_id]))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRouteTables", e))?;
    if !explicit.route_tables().is_empty() {
        return Ok(explicit.route_tables().to_vec());
    }
    let main = client
        .describe_route_tables()
        .filters(filter("association.main", &["true"]))
        .filters(filter("vpc-id", &[vpc_id]))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeRouteTables", e))?;
    Ok(main.route_tables().to_vec())
}

fn routes_to_internet_gateway(table: &RouteTable) -> bool {
    table.routes().iter().any(|route| route.gateway_id().is_some_and(|g| g.starts_with("igw-")))
}

fn routes_to_internet_privately(table: &RouteTable) -> bool {
    table.routes().iter().any(|route| {
        route.destination_cidr_block() == Some("0.0.0.0/0")
            && (route.nat_gateway_id().is_some()
                || route.transit_gateway_id().is_some()
                || route.vpc_peering_connection_id().is_some())
    })
}
