"""Workflow validation: the report of `POST /workflows/validate` (CONTRACT.md section 5).

`ValidationReport` is also what running or deploying an invalid workflow turns into a 400
`VALIDATION_ERROR`, whose `details.errors` are `[{loc, msg}]` (section 1): `error_items()`.

Every issue carries a stable `code` (what kind of problem, for programs), a `message` (for
people), the node it is about and the `field` inside that node (`parameters.url`, `subtype`,
`connections`), and `loc`, the path in the document as the error envelope spells it:
`["nodes", "fetch", "parameters", "url"]`, or `["connections", "if1", "yes"]` for a connection
(connections are keyed by source node and output port).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flowlane.errors import ValidationFailed

# `values.total`, `headers[0].name`: a field path as `flowlane.engine.expressions` writes it.
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_loc(field: str) -> list[str | int]:
    """`parameters.values[0].name` -> ["parameters", "values", 0, "name"]."""
    parts: list[str | int] = []
    for name, index in _PATH_PART.findall(field):
        parts.append(int(index) if index else name)
    return parts


class ValidationIssue(BaseModel):
    code: Annotated[
        str, Field(description="Stable: UNKNOWN_NODE_TYPE, UNKNOWN_PORT, CYCLE, ... (docs)")
    ]
    message: str
    node_id: Annotated[str | None, Field(description="The node the issue is about")] = None
    field: Annotated[
        str | None,
        Field(description="Where in the node: parameters.url, subtype, connections, ..."),
    ] = None
    loc: Annotated[
        list[str | int],
        Field(description="Path in the workflow document, as in details.errors of a 400"),
    ] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_loc(self) -> ValidationIssue:
        if not self.loc:
            head: list[str | int] = ["nodes", self.node_id] if self.node_id else []
            tail = field_loc(self.field) if self.field else []
            self.loc = [*head, *tail] or ["workflow"]
        return self


class ValidationReport(BaseModel):
    valid: Annotated[bool, Field(description="No errors (warnings allowed)")]
    errors: list[ValidationIssue] = Field(default_factory=list)
    warnings: list[ValidationIssue] = Field(default_factory=list)

    @classmethod
    def of(
        cls, errors: list[ValidationIssue], warnings: list[ValidationIssue] | None = None
    ) -> ValidationReport:
        return cls(valid=not errors, errors=errors, warnings=warnings or [])

    def error_items(self) -> list[dict[str, Any]]:
        """The errors as the contract's `details.errors`: `[{loc, msg}]`."""
        return [{"loc": list(issue.loc), "msg": issue.message} for issue in self.errors]

    def raise_if_invalid(self, what: str = "the workflow") -> None:
        """Raise the 400 VALIDATION_ERROR a run or a deployment of an invalid workflow gets."""
        if self.errors:
            count = len(self.errors)
            raise ValidationFailed(
                f"{what} is not valid: {count} error{'s' if count > 1 else ''}; "
                f"first: {self.errors[0].message}",
                self.error_items(),
            )


class ValidateRequest(BaseModel):
    """`POST /workflows/validate`: `{workflow}`, or the seed's `{workflow_data}`.

    The value is a workflow document as a client holds it: a stored one (its id, revision and
    times are ignored) or a draft without them. It is kept as raw JSON here so a document that
    does not parse still gets a report (with the parse errors) rather than a bare 400.
    """

    model_config = ConfigDict(extra="ignore")

    workflow: Annotated[dict[str, Any] | None, Field(description="The document to check")] = None
    workflow_data: Annotated[dict[str, Any] | None, Field(description="Seed name of it")] = None
    user_id: Annotated[str | None, Field(description="Seed field; must equal the caller")] = None

    @model_validator(mode="after")
    def _one_document(self) -> ValidateRequest:
        if self.workflow is None and self.workflow_data is None:
            raise ValueError('send the workflow to validate as {"workflow": {...}}')
        if self.workflow is not None and self.workflow_data is not None:
            raise ValueError("send either 'workflow' or 'workflow_data', not both")
        return self

    @property
    def document(self) -> dict[str, Any]:
        document = self.workflow if self.workflow is not None else self.workflow_data
        assert document is not None  # _one_document guarantees it
        return document


ValidateResponse = ValidationReport
