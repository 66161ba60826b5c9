"""The publish gate (SPEC §7): suites per published table (`suites`), the runner (`runner`) and the export of
the suites to expectations/ (`export`). See expectations/README.md for which tool checks what."""

from cvw.gate.runner import CheckResult, GateFailed, GateResult, run_gate
from cvw.gate.suites import GATE_DEFAULTS, build_suite, gate_vars

__all__ = ["GATE_DEFAULTS", "CheckResult", "GateFailed", "GateResult", "build_suite", "gate_vars", "run_gate"]
