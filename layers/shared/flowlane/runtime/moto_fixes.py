"""One gap in moto's Step Functions interpreter, closed while the embedded runtime runs.

moto 5.2 runs `arn:aws:states:::states:startExecution.sync:2` Tasks by calling boto3 with the
ASL's parameter names (`StateMachineArn`, `Input`, `Name`) where boto3 wants `stateMachineArn`,
and reads the answer back as `ExecutionArn` where boto3 says `executionArn`: the Task fails
with `States.Runtime: 'StateMachineArn'` (LocalStack, which moto's interpreter comes from,
converts both ways). Flowlane runs the parts of a workflow too large for one machine with such
Tasks, so the embedded runtime converts the names the way Step Functions does.
"""

from __future__ import annotations

from typing import Any


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


class SfnIntegrationFix:
    def __init__(self) -> None:
        self._originals: tuple[Any, Any] | None = None

    def install(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as module,
        )

        cls = module.StateTaskServiceSfn
        if self._originals is not None:
            return
        original_parameters = cls._normalise_parameters
        original_response = cls._normalise_response
        self._originals = (original_parameters, original_response)

        def parameters(
            service: Any,
            parameters: dict[str, Any],
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            original_parameters(service, parameters, boto_service_name, service_action_name)
            for key in list(parameters):
                parameters[_lower_first(key)] = parameters.pop(key)

        def response(
            service: Any,
            response: Any,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            original_response(service, response, boto_service_name, service_action_name)
            if isinstance(response, dict):
                for key in list(response):
                    response[_upper_first(key)] = response.pop(key)

        setattr(cls, "_normalise_parameters", parameters)  # noqa: B010 - the documented fix
        setattr(cls, "_normalise_response", response)  # noqa: B010

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_sfn as module,
        )

        if self._originals is not None:
            cls = module.StateTaskServiceSfn
            setattr(cls, "_normalise_parameters", self._originals[0])  # noqa: B010
            setattr(cls, "_normalise_response", self._originals[1])  # noqa: B010
            self._originals = None
