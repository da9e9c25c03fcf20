"""The pre-send gate: may this agency's campaign touch this person on this channel now?"""

from leadpool.gate.batch import IdempotencyKeyReused
from leadpool.gate.check import (
    CheckRequest,
    TouchState,
    cancel,
    check,
    check_many,
    check_one,
    confirm_sent,
    expire_reservations,
)
from leadpool.gate.policy import GatePolicy, platform_policy, resolve, validate_overrides
from leadpool.gate.reasons import REASON_CODES, GateDecision, Reason
from leadpool.gate.worker import GateWorker

__all__ = [
    "REASON_CODES",
    "CheckRequest",
    "GateDecision",
    "GatePolicy",
    "GateWorker",
    "IdempotencyKeyReused",
    "Reason",
    "TouchState",
    "cancel",
    "check",
    "check_many",
    "check_one",
    "confirm_sent",
    "expire_reservations",
    "platform_policy",
    "resolve",
    "validate_overrides",
]
