"""MEMORY nodes: durable key/value state and conversations (CONTRACT.md section 3).

Both run standalone in the flow and can be attached to an AI agent on `ai_memory`. Memory belongs
to the workflow's owner and is scoped either to the workflow (`scope: workflow`, the default) or
to the owner across all their workflows (`scope: user`); `flowlane.store.memory` keeps it under the
owner's partition, so no workflow can read another user's memory.

MEMORY/KEY_VALUE: `operation` get, set, delete or append; output `{key, value}`:
- get: the stored value, null when the key is not set;
- set: the value written;
- delete: null (deleting a key that is not set is not an error);
- append: the whole list after appending `value` as one element (a list value is appended as one
  element too, not spread); a missing key starts a new list, a key that holds anything other than
  a list fails with VALIDATION_ERROR. The append is atomic (the Memory protocol's own
  operation), so concurrent appends from a LOOP are all kept.

MEMORY/CONVERSATION: `operation` read or append; `conversation_id` (default: the workflow id, or
`default` in the user scope), `message` (a string, which is a user message, or `{role, content}`
with role user, assistant or system, or a list of those), `max_messages` (1..200, default 20);
output `{messages}`: the last `max_messages` messages, oldest first (after the append, for append).
Attached to an agent, it is the agent's conversation history (see `flowlane.nodes.ai_agent`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from flowlane.models.workflow import NodeType
from flowlane.nodes.base import Node, NodeContext, NodeParameters, NodeResult
from flowlane.nodes.registry import register

Scope = Literal["workflow", "user"]
# Kept in step with flowlane.store.memory (MAX_STORED_MESSAGES, MAX_KEY_BYTES); not imported from
# there because nodes sit below the store and never import it (DESIGN.md "Shape").
MAX_MESSAGES = 200
MAX_NAME_LENGTH = 512
USER_SCOPE_DEFAULT_CONVERSATION = "default"


class KeyValueParameters(NodeParameters):
    operation: Annotated[
        Literal["get", "set", "delete", "append"], Field(description="What to do with the key")
    ] = "get"
    key: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    value: Annotated[JsonValue, Field(description="For set and append")] = None
    scope: Annotated[Scope, Field(description="workflow: this workflow only; user: all yours")] = (
        "workflow"
    )


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant", "system"] = "user"
    content: str


class ConversationParameters(NodeParameters):
    operation: Literal["read", "append"] = "read"
    conversation_id: Annotated[str | None, Field(max_length=MAX_NAME_LENGTH)] = None
    message: Annotated[
        str | MessageIn | list[str | MessageIn] | None,
        Field(description="A user message as text, or {role, content}, or a list of them"),
    ] = None
    max_messages: Annotated[int, Field(ge=1, le=MAX_MESSAGES)] = 20
    scope: Scope = "workflow"

    @model_validator(mode="after")
    def _append_needs_message(self) -> ConversationParameters:
        if self.operation == "append" and (self.message is None or self.message == []):
            raise ValueError("operation append needs a message")
        return self

    def conversation(self, workflow_id: str) -> str:
        """The conversation id, defaulted per scope."""
        if self.conversation_id:
            return self.conversation_id
        return workflow_id if self.scope == "workflow" else USER_SCOPE_DEFAULT_CONVERSATION

    def messages(self) -> list[dict[str, str]]:
        """The message(s) to append, as stored: `{role, content}`."""
        given = self.message
        items = given if isinstance(given, list) else [] if given is None else [given]
        return [
            {"role": "user", "content": item}
            if isinstance(item, str)
            else {"role": item.role, "content": item.content}
            for item in items
        ]


@register
class KeyValueMemory(Node[KeyValueParameters]):
    type = NodeType.MEMORY
    subtype = "KEY_VALUE"
    title = "Key/value memory"
    description = (
        "Get, set, delete or append to a value that lasts across executions, kept for this "
        "workflow or for all your workflows"
    )
    parameters_model = KeyValueParameters
    attachable_as = ("ai_memory",)

    def run(self, ctx: NodeContext, params: KeyValueParameters) -> NodeResult:
        memory = ctx.services.memory(ctx.owner, ctx.workflow_id)
        value: Any
        if params.operation == "get":
            value = memory.get(params.scope, params.key)
        elif params.operation == "set":
            memory.set(params.scope, params.key, params.value)
            value = params.value
        elif params.operation == "delete":
            memory.delete(params.scope, params.key)
            value = None
        else:
            value = memory.append(params.scope, params.key, params.value)
        return NodeResult({"key": params.key, "value": value})


@register
class ConversationMemory(Node[ConversationParameters]):
    type = NodeType.MEMORY
    subtype = "CONVERSATION"
    title = "Conversation memory"
    description = (
        "Read or append the messages of a conversation; attached to an AI agent, it holds the "
        "agent's conversation across executions"
    )
    parameters_model = ConversationParameters
    attachable_as = ("ai_memory",)

    def run(self, ctx: NodeContext, params: ConversationParameters) -> NodeResult:
        memory = ctx.services.memory(ctx.owner, ctx.workflow_id)
        conversation = params.conversation(ctx.workflow_id)
        if params.operation == "append":
            memory.append_messages(params.scope, conversation, list(params.messages()))
        messages = memory.read_messages(params.scope, conversation, params.max_messages)
        return NodeResult({"messages": messages})
