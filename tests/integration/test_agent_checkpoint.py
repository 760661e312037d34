"""LangGraph checkpoints in the one DynamoDB table (flowlane.agent.checkpoint), on moto."""

from __future__ import annotations

import asyncio
import itertools
import operator
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from flowlane.agent.checkpoint import (
    MAX_ITEM_BYTES,
    CheckpointTooLarge,
    DynamoCheckpointSaver,
    thread_pk,
)
from flowlane.runtime.services import Services
from flowlane.store.dynamo import DynamoTable

pytestmark = pytest.mark.usefixtures("runtime")


class Counted(TypedDict, total=False):
    count: Annotated[int, operator.add]
    path: Annotated[list[str], operator.add]


def config_for(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture
def table(services: Services) -> DynamoTable:
    return services.table


@pytest.fixture
def saver_for(table: DynamoTable) -> Callable[..., DynamoCheckpointSaver]:
    def make(owner: str = "alice", **kwargs: Any) -> DynamoCheckpointSaver:
        return DynamoCheckpointSaver(table, owner, **kwargs)

    return make


def step(name: str, calls: Counter[str]) -> Callable[[Counted], Counted]:
    def node(state: Counted) -> Counted:
        calls[name] += 1
        return {"count": 1, "path": [name]}

    return node


def chain(calls: Counter[str]) -> StateGraph[Counted]:
    """START -> a -> b -> c -> END; each node adds 1 to the count and its name to the path."""
    builder = StateGraph(Counted)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name, calls))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder


def thread_items(table: DynamoTable, owner: str, thread_id: str) -> list[dict[str, Any]]:
    return list(table.query("pk", thread_pk(owner, thread_id), consistent=True))


# -- a real graph ------------------------------------------------------------------------------


def test_graph_state_and_history_survive_in_the_table(
    saver_for: Callable[..., DynamoCheckpointSaver], table: DynamoTable
) -> None:
    calls: Counter[str] = Counter()
    graph = chain(calls).compile(checkpointer=saver_for())
    config = config_for("t1")

    result = graph.invoke({"count": 0, "path": []}, config)

    assert result == {"count": 3, "path": ["a", "b", "c"]}
    state = graph.get_state(config)
    assert state.values == {"count": 3, "path": ["a", "b", "c"]}
    assert state.next == ()
    history = list(graph.get_state_history(config))
    assert [s.metadata["step"] for s in history if s.metadata] == [3, 2, 1, 0, -1]
    assert [s.values.get("path") for s in history] == [
        ["a", "b", "c"],
        ["a", "b"],
        ["a"],
        [],
        [],  # the input checkpoint: the reducers' empty values
    ]
    assert [s.next for s in history] == [(), ("c",), ("b",), ("a",), ("__start__",)]
    # Each snapshot's parent is the next older one.
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config == older.config
    assert history[-1].parent_config is None
    # Stored under the owner's thread partition, each item with a TTL.
    items = thread_items(table, "alice", "t1")
    assert sum(1 for i in items if i["sk"].startswith("CKPT#")) == 5
    assert all(isinstance(i["expires_at"], int) for i in items)

    again = graph.invoke({"path": ["again"]}, config)

    assert again == {"count": 6, "path": ["a", "b", "c", "again", "a", "b", "c"]}
    assert calls == Counter({"a": 2, "b": 2, "c": 2})


def test_history_before_limit_and_filter(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    saver = saver_for()
    graph = chain(Counter()).compile(checkpointer=saver)
    config = config_for("t1")
    graph.invoke({"count": 0}, config)
    newest_first = list(saver.list(config))
    ids = [t.config["configurable"]["checkpoint_id"] for t in newest_first]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 5

    older = list(saver.list(config, before=newest_first[1].config, limit=2))
    assert [t.config["configurable"]["checkpoint_id"] for t in older] == ids[2:4]
    inputs = list(saver.list(config, filter={"source": "input"}))
    assert [t.metadata["step"] for t in inputs] == [-1]
    exact = list(saver.list({"configurable": {**newest_first[2].config["configurable"]}}))
    assert [t.config for t in exact] == [newest_first[2].config]
    # Without a namespace in the config: every namespace, newest first.
    assert [t.config for t in saver.list(config_for("t1"))] == [t.config for t in newest_first]
    assert saver.get_tuple(newest_first[3].config) == newest_first[3]
    with pytest.raises(ValueError, match="thread_id"):
        list(saver.list(None))


# -- interrupt and resume across a "restart" ----------------------------------------------------


def test_interrupt_before_resumes_with_a_new_saver(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    calls: Counter[str] = Counter()
    builder = chain(calls)
    config = config_for("t-interrupt")
    first = builder.compile(checkpointer=saver_for(), interrupt_before=["b"])

    paused = first.invoke({"count": 0, "path": []}, config)

    assert paused == {"count": 1, "path": ["a"]}
    assert first.get_state(config).next == ("b",)

    # A new process: a new saver object on the same table, a freshly compiled graph.
    second = builder.compile(checkpointer=saver_for(), interrupt_before=["b"])
    assert second.get_state(config).next == ("b",)
    resumed = second.invoke(None, config)

    assert resumed == {"count": 3, "path": ["a", "b", "c"]}
    assert calls == Counter({"a": 1, "b": 1, "c": 1})
    assert second.get_state(config).next == ()


def test_interrupt_inside_a_subgraph_resumes_in_its_namespace(
    saver_for: Callable[..., DynamoCheckpointSaver], table: DynamoTable
) -> None:
    class Asked(TypedDict, total=False):
        answer: str

    def ask(state: Asked) -> Asked:
        return {"answer": str(interrupt("name?"))}

    child = StateGraph(Asked)
    child.add_node("ask", ask)
    child.add_edge(START, "ask")
    parent = StateGraph(Asked)
    parent.add_node("child", child.compile())
    parent.add_edge(START, "child")
    config = config_for("t-sub")

    paused = parent.compile(checkpointer=saver_for()).invoke({"answer": ""}, config)

    assert paused["__interrupt__"][0].value == "name?"
    namespaces = {i["checkpoint_ns"] for i in thread_items(table, "alice", "t-sub")}
    assert "" in namespaces
    assert any(ns.startswith("child:") for ns in namespaces)

    graph = parent.compile(checkpointer=saver_for())
    state = graph.get_state(config, subgraphs=True)
    assert state.tasks[0].state is not None
    assert graph.invoke(Command(resume="Ada"), config) == {"answer": "Ada"}


# -- pending writes -----------------------------------------------------------------------------


def test_a_sibling_writes_survive_a_failed_superstep(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    calls: Counter[str] = Counter()
    failures = {"c": 1}

    def flaky(state: Counted) -> Counted:
        calls["c"] += 1
        if failures["c"]:
            failures["c"] -= 1
            raise RuntimeError("c failed")
        return {"count": 10, "path": ["c"]}

    builder = StateGraph(Counted)
    builder.add_node("a", step("a", calls))
    builder.add_node("b", step("b", calls))
    builder.add_node("c", flaky)
    builder.add_node("d", step("d", calls))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("a", "c")
    builder.add_edge(["b", "c"], "d")
    builder.add_edge("d", END)
    config = config_for("t-fail")

    with pytest.raises(RuntimeError, match="c failed"):
        builder.compile(checkpointer=saver_for()).invoke({"count": 0, "path": []}, config)

    head = saver_for().get_tuple(config)
    assert head is not None
    writes = head.pending_writes or []
    assert ("path", ["b"]) in [(channel, value) for _, channel, value in writes]
    assert any(channel == ERROR for _, channel, _ in writes)

    # Another process retries: b's write is reused, so only c runs again.
    result = builder.compile(checkpointer=saver_for()).invoke(None, config)

    assert calls == Counter({"a": 1, "b": 1, "c": 2, "d": 1})
    assert result["count"] == 1 + 1 + 10 + 1
    assert sorted(result["path"][1:3]) == ["b", "c"]


def test_put_writes_keeps_regular_writes_and_replaces_special_ones(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    saver = saver_for()
    checkpoint = empty_checkpoint()
    stored = saver.put(
        {"configurable": {"thread_id": "t-w", "checkpoint_ns": ""}}, checkpoint, {}, {}
    )

    saver.put_writes(stored, [("x", 1), ("y", 2)], task_id="task-2", task_path="~b")
    saver.put_writes(stored, [("x", 99)], task_id="task-2", task_path="~b")  # a retry
    saver.put_writes(stored, [("z", 3)], task_id="task-1", task_path="~a")
    saver.put_writes(stored, [(INTERRUPT, "first")], task_id="task-1", task_path="~a")
    saver.put_writes(stored, [(INTERRUPT, "second")], task_id="task-1", task_path="~a")

    head = saver_for().get_tuple(stored)
    assert head is not None
    # In `writes_sort_key` order (task_path, task_id, idx): special indexes are negative.
    assert head.pending_writes == [
        ("task-1", INTERRUPT, "second"),
        ("task-1", "z", 3),
        ("task-2", "x", 1),
        ("task-2", "y", 2),
    ]
    assert head.checkpoint["id"] == checkpoint["id"]
    assert head.parent_config is None


# -- tenancy, expiry, deletion ------------------------------------------------------------------


def test_another_owner_cannot_see_or_delete_the_thread(
    saver_for: Callable[..., DynamoCheckpointSaver], table: DynamoTable
) -> None:
    builder = chain(Counter())
    config = config_for("t1")
    builder.compile(checkpointer=saver_for("alice")).invoke({"count": 0}, config)
    bob = saver_for("bob")

    assert bob.get_tuple(config) is None
    assert list(bob.list(config)) == []
    alice_id = saver_for("alice").get_tuple(config)
    assert alice_id is not None
    assert bob.get_tuple(alice_id.config) is None  # even with the exact checkpoint id
    assert builder.compile(checkpointer=bob).get_state(config).values == {}
    bob.delete_thread("t1")
    assert saver_for("alice").get_tuple(config) == alice_id

    # Bob's own thread of the same id is separate.
    builder.compile(checkpointer=bob).invoke({"count": 100}, config)
    assert builder.compile(checkpointer=bob).get_state(config).values["count"] == 103
    assert builder.compile(checkpointer=saver_for("alice")).get_state(config).values == {
        "count": 3,
        "path": ["a", "b", "c"],
    }
    with pytest.raises(ValueError, match="owner"):
        DynamoCheckpointSaver(table, "alice#THREAD#t1")


def test_expired_checkpoints_and_writes_are_ignored(
    saver_for: Callable[..., DynamoCheckpointSaver], table: DynamoTable
) -> None:
    builder = chain(Counter())
    config = config_for("t-old")
    builder.compile(checkpointer=saver_for(ttl_seconds=-1)).invoke({"count": 0}, config)
    # moto never expires items (DynamoDB deletes them up to 48 h late): they are still there.
    assert len(thread_items(table, "alice", "t-old")) > 5

    fresh = saver_for()
    assert fresh.get_tuple(config) is None
    assert list(fresh.list(config)) == []
    graph = builder.compile(checkpointer=fresh)
    assert graph.get_state(config).values == {}
    # A new run on the thread starts from nothing.
    assert graph.invoke({"count": 0}, config) == {"count": 3, "path": ["a", "b", "c"]}

    # An expired newer checkpoint hides nothing older that is still live.
    live = fresh.get_tuple(config)
    assert live is not None
    newer = empty_checkpoint()
    newer["channel_values"] = {"count": 999}
    saver_for(ttl_seconds=-1).put(live.config, newer, {"step": 99}, {})
    assert fresh.get_tuple(config) == live
    # An expired pending write is ignored, and can be written again.
    saver_for(ttl_seconds=-1).put_writes(live.config, [("path", ["old"])], "task-x")
    assert (fresh.get_tuple(config) or live).pending_writes == []
    fresh.put_writes(live.config, [("path", ["new"])], "task-x")
    head = fresh.get_tuple(config)
    assert head is not None
    assert head.pending_writes == [("task-x", "path", ["new"])]


def test_delete_thread_removes_everything_of_the_thread(
    saver_for: Callable[..., DynamoCheckpointSaver], table: DynamoTable
) -> None:
    saver = saver_for()
    builder = chain(Counter())
    graph = builder.compile(checkpointer=saver, interrupt_before=["c"])
    graph.invoke({"count": 0}, config_for("t1"))
    graph.invoke({"count": 0}, config_for("t2"))
    head = saver.get_tuple(config_for("t1"))
    assert head is not None
    saver.put_writes(head.config, [("path", ["pending"])], "task-p")
    assert any(i["sk"].startswith("WRITE#") for i in thread_items(table, "alice", "t1"))

    saver.delete_thread("t1")

    assert thread_items(table, "alice", "t1") == []
    assert saver.get_tuple(config_for("t1")) is None
    assert graph.get_state(config_for("t2")).next == ("c",)


# -- limits, async, import cost -----------------------------------------------------------------


def test_oversized_state_is_refused_with_a_clear_error(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    class Big(TypedDict, total=False):
        blob: str

    builder = StateGraph(Big)
    builder.add_node("grow", lambda state: {"blob": "x" * 400_000})
    builder.add_edge(START, "grow")
    graph = builder.compile(checkpointer=saver_for())

    with pytest.raises(CheckpointTooLarge, match=str(MAX_ITEM_BYTES)) as raised:
        graph.invoke({"blob": ""}, config_for("t-big"))

    assert isinstance(raised.value, ValueError)
    big = empty_checkpoint()
    big["channel_values"] = {"blob": "y" * 360_000}
    with pytest.raises(ValueError, match="350000 bytes"):
        saver_for().put(config_for("t-big2"), big, {}, {})


def test_async_api_delegates_to_the_sync_calls(
    saver_for: Callable[..., DynamoCheckpointSaver],
) -> None:
    saver = saver_for()
    graph: CompiledStateGraph[Any, Any, Any, Any] = chain(Counter()).compile(checkpointer=saver)
    config = config_for("t-async")

    async def scenario() -> tuple[Any, ...]:
        result = await graph.ainvoke({"count": 0}, config)
        head = await saver.aget_tuple(config)
        listed = [t async for t in saver.alist(config, limit=2)]
        assert head is not None
        await saver.aput_writes(head.config, [("path", ["p"])], "task-a")
        with_write = await saver.aget_tuple(config)
        await saver.adelete_thread("t-async")
        return result, head, listed, with_write, await saver.aget_tuple(config)

    result, head, listed, with_write, gone = asyncio.run(scenario())

    assert result == {"count": 3, "path": ["a", "b", "c"]}
    assert listed[0] == head
    assert len(listed) == 2
    assert with_write.pending_writes == [("task-a", "path", ["p"])]
    assert gone is None


def test_importing_flowlane_agent_does_not_import_langgraph() -> None:
    code = "import sys, flowlane.agent; sys.exit('langgraph' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
