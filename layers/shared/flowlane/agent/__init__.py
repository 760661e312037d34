"""The agent: plain words to workflows (CONTRACT.md section 5, "Agent").

- `draft`: the compact shape a planner writes a workflow in, and its conversion to a document.
- `offline/`: the offline planner (no model, deterministic), used when no LLM key is set.
- `catalogue`: lexical search over the node templates.
- `samples`: sample outputs for the agent's dry run (no side effects reach real services).
- `checkpoint`: LangGraph checkpoints on the one DynamoDB table.

Importing this package imports neither LangGraph nor an LLM SDK (DESIGN.md decision 7).
"""
