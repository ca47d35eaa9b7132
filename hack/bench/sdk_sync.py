#!/usr/bin/env python3
"""Sync Group manifests to the platform with the vendor SDK (igz-mgmt 0.4.2), one group at a time.

This is the comparison users make: what they would write instead of running the operator. It
reads the desired state (the same Group manifests the operator reconciles) and brings the platform
in line, using the SDK's own calls the way its documentation shows them:

- members: looked up by username (cached for the run, as a careful user would); a new group is
  created with its members in one call; an existing group gets `User.add_to_group` /
  `User.remove_from_group` for the differences (membersPolicy Authoritative);
- project roles: `Group.ensure_project_membership(project, role)` for every listed role (the SDK
  reads the project and its roles, sends one async transaction and waits for the job).

Usage (the access key comes from IGZ_ACCESS_KEY):
    sdk_sync.py --endpoint http://127.0.0.1:8470 groups.json
groups.json is `kubectl get groups -o json` output (an object with "items") or a list of Group
manifests. Prints one JSON line: {"groups": N, "seconds": S} where S is the time spent syncing
(interpreter start and imports excluded).
"""
import argparse
import json
import os
import sys
import time

import igz_mgmt
import igz_mgmt.exceptions


def desired_groups(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    items = doc["items"] if isinstance(doc, dict) else doc
    return [g for g in items if g.get("kind", "Group") == "Group"]


def sync_group(client, manifest, users):
    spec = manifest.get("spec", {})
    name = spec.get("groupName") or manifest["metadata"]["name"]

    wanted = {}
    for username in spec.get("members", []):
        if username not in users:
            try:
                users[username] = igz_mgmt.User.get_by_username(client, username)
            except igz_mgmt.exceptions.ResourceNotFoundException:
                users[username] = None
        if users[username] is not None:
            wanted[users[username].id] = users[username]

    try:
        group = igz_mgmt.Group.get_by_name(client, name, include=["users"])
    except igz_mgmt.exceptions.ResourceNotFoundException:
        group = None

    if group is None:
        group = igz_mgmt.Group.create(
            client,
            name=name,
            description=spec.get("description"),
            gid=spec.get("gid"),
            assigned_policies=spec.get("assignedPolicies"),
            users=list(wanted),
        )
    else:
        current = {
            member["id"]
            for member in (group.relationships or {}).get("users", {}).get("data", [])
        }
        for user_id in wanted.keys() - current:
            wanted[user_id].add_to_group(client, group)
        if spec.get("membersPolicy", "Authoritative") == "Authoritative":
            for user_id in current - wanted.keys():
                igz_mgmt.User.get(client, user_id).remove_from_group(client, group)

    for binding in spec.get("projectRoles", []):
        group.ensure_project_membership(client, binding["project"], binding["role"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("manifests")
    args = parser.parse_args()

    groups = desired_groups(args.manifests)
    client = igz_mgmt.Client(endpoint=args.endpoint, access_key=os.environ["IGZ_ACCESS_KEY"])
    # The SDK logs every request and job poll at INFO; keep the comparison about the platform.
    client._logger.set_level("WARNING")
    users = {}
    started = time.monotonic()
    for manifest in groups:
        sync_group(client, manifest, users)
    elapsed = time.monotonic() - started
    client.close()
    print(json.dumps({"groups": len(groups), "seconds": round(elapsed, 3)}))


if __name__ == "__main__":
    sys.exit(main())
