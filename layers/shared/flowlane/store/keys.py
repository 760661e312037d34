"""Key builders. Every item a user owns sits under a partition key that starts with the user's id
(DESIGN.md decision 8): repositories take the caller, so a forgotten check cannot cross tenants."""

from __future__ import annotations


def user_pk(owner: str) -> str:
    return f"USER#{owner}"


def workflow_sk(workflow_id: str) -> str:
    return f"WORKFLOW#{workflow_id}"


WORKFLOW_SK_PREFIX = "WORKFLOW#"


def workflow_revision_sk(workflow_id: str, revision: int) -> str:
    # Zero-padded so a query returns revisions in order; not under WORKFLOW# so listing
    # workflows never sees them.
    return f"WFREV#{workflow_id}#{revision:010d}"
