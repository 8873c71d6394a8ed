"""Known faults the reference target can be started with, to prove the suite fails when behaviour is wrong.

Each fault replaces one dialect's decision function with a subtly wrong one, the kind of bug a real
implementation could ship. Used only when asked for with `--target-option fault=NAME`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from reference_impl.auth import agentgateway, kgateway
from reference_impl.auth.decision import Allow, Deny, RequestParts
from reference_impl.gateway.app import DECIDERS

Decider = Callable[[Any, RequestParts], Allow | Deny]


def _ignore_forward_credential(auth: kgateway.KgatewayAuth, request: RequestParts) -> Allow | Deny:
    # Always hides the key, as if forwardCredential did not exist.
    return kgateway.decide(dataclasses.replace(auth, forward_credential=False), request)


def _later_source_rescues(auth: kgateway.KgatewayAuth, request: RequestParts) -> Allow | Deny:
    # Tries every source until one holds a valid key, instead of letting the first present one decide.
    for source in auth.sources:
        decision = kgateway.decide(dataclasses.replace(auth, sources=(source,), forward_credential=True), request)
        if isinstance(decision, Allow):
            if auth.forward_credential:
                return decision
            headers, query_string = kgateway.hide(auth.sources, decision.headers, decision.query_string)
            return dataclasses.replace(decision, headers=headers, query_string=query_string)
    return kgateway.decide(auth, request)


def _optional_as_permissive(auth: agentgateway.AgentgatewayAuth, request: RequestParts) -> Allow | Deny:
    # Lets a wrong key through in Optional mode, confusing it with Permissive.
    mode = "Permissive" if auth.mode == "Optional" else auth.mode
    return agentgateway.decide(dataclasses.replace(auth, mode=mode), request)


FAULTS: Mapping[str, tuple[type, Decider]] = {
    "ignore-forward-credential": (kgateway.KgatewayAuth, _ignore_forward_credential),
    "later-source-rescues": (kgateway.KgatewayAuth, _later_source_rescues),
    "optional-as-permissive": (agentgateway.AgentgatewayAuth, _optional_as_permissive),
}


def deciders_with(fault: str | None) -> dict[type, Decider]:
    deciders: dict[type, Decider] = dict(DECIDERS)
    if fault:
        if fault not in FAULTS:
            raise ValueError(f"fault {fault!r} is unknown; expected one of {', '.join(FAULTS)}")
        auth_type, decider = FAULTS[fault]
        deciders[auth_type] = decider
    return deciders
