"""Policy status conditions, as the controllers write them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str  # "True" | "False"
    reason: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "status": self.status, "reason": self.reason, "message": self.message}


def accepted(message: str = "Policy accepted") -> Condition:
    return Condition("Accepted", "True", "Valid", message)


def invalid(message: str) -> Condition:
    return Condition("Accepted", "False", "Invalid", message)


def partially_valid(message: str) -> Condition:
    return Condition("Accepted", "True", "PartiallyValid", message)
