"""moto's server, with EC2 placement groups, which moto (5.2.5) does not implement.

Run as `moto_server` is (`python server.py -H 127.0.0.1 -p PORT`). It adds, as AWS answers
them: CreatePlacementGroup (tags; a name taken is `InvalidPlacementGroup.Duplicate`),
DescribePlacementGroups (by name or ID; an unknown name is `InvalidPlacementGroup.Unknown`),
DeletePlacementGroup (an unknown name is `InvalidPlacementGroup.Unknown`, a group with an
instance that is not terminated is `InvalidPlacementGroup.InUse`), and RunInstances'
`Placement.GroupName` (an unknown group is refused; the instance's `Placement.GroupName` is
the group's, as DescribeInstances shows). Groups are per account and region, and go with
moto's reset.
"""

import sys

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response
from moto.ec2.responses.instances import InstanceResponse
from moto.ec2.utils import random_id
from moto.server import main

STRATEGIES = {"cluster", "spread", "partition"}


def groups_of(backend):
    """The placement groups of one EC2 backend (one account and region), by name."""
    if not hasattr(backend, "dstack_placement_groups"):
        backend.dstack_placement_groups = {}
    return backend.dstack_placement_groups


def unknown(name):
    return EC2ClientError(
        "InvalidPlacementGroup.Unknown", f"The Placement Group '{name}' is unknown."
    )


def create_placement_group(self):
    name = self._get_param("GroupName")
    strategy = self._get_param("Strategy")
    if not name:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter groupName")
    if strategy not in STRATEGIES:
        raise EC2ClientError(
            "InvalidParameterValue", f"Value ({strategy}) for parameter strategy is invalid."
        )
    tags = self._parse_tag_specification("placement-group").get("placement-group", {})
    self.error_on_dryrun()
    groups = groups_of(self.ec2_backend)
    if name in groups:
        raise EC2ClientError(
            "InvalidPlacementGroup.Duplicate", f"The Placement Group '{name}' already exists."
        )
    group_id = random_id(prefix="pg")
    groups[name] = {
        "GroupName": name,
        "GroupId": group_id,
        "GroupArn": f"arn:aws:ec2:{self.region}:{self.current_account}:placement-group/{name}",
        "State": "available",
        "Strategy": strategy,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    return ActionResult({"PlacementGroup": groups[name]})


def describe_placement_groups(self):
    names = self._get_param("GroupNames", [])
    ids = self._get_param("GroupIds", [])
    groups = groups_of(self.ec2_backend)
    for name in names:
        if name not in groups:
            raise unknown(name)
    found = [
        group
        for group in groups.values()
        if (not names or group["GroupName"] in names) and (not ids or group["GroupId"] in ids)
    ]
    return ActionResult({"PlacementGroups": found})


def delete_placement_group(self):
    name = self._get_param("GroupName")
    self.error_on_dryrun()
    groups = groups_of(self.ec2_backend)
    if name not in groups:
        raise unknown(name)
    in_use = any(
        instance.placement.group_name == name and instance.state != "terminated"
        for instance in self.ec2_backend.all_instances()
    )
    if in_use:
        raise EC2ClientError(
            "InvalidPlacementGroup.InUse",
            f"The placement group '{name}' is in use and may not be deleted.",
        )
    del groups[name]
    return EmptyResult()


moto_run_instances = InstanceResponse.run_instances


def run_instances(self):
    name = self._get_param("Placement.GroupName")
    if name and name not in groups_of(self.ec2_backend):
        raise unknown(name)
    result = moto_run_instances(self)
    if name:
        for instance in result.result.instances:
            instance.placement.group_name = name
    return result


EC2Response.create_placement_group = create_placement_group
EC2Response.describe_placement_groups = describe_placement_groups
EC2Response.delete_placement_group = delete_placement_group
EC2Response.run_instances = run_instances

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
