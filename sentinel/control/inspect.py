"""Reading a run's control records: status, the decision list, one decision explained.

Used by ``sentinel-run control``; each function opens the store read-only and returns
plain data (a notebook can call them too).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sentinel.audit import AuditStore
from sentinel.control.observation import Observation
from sentinel.control.policy import Comparison
from sentinel.control.replay import read_control
from sentinel.errors import InvalidInputError


def _open(path: Path) -> AuditStore:
    if not path.is_file():
        raise InvalidInputError(f"no store at {path}")
    return AuditStore(path, create=False)


def status(store_path: Path) -> dict[str, Any]:
    """Per plane: iterations, rules fired, actions, would-have-acted, verdicts, rollbacks.

    Raises:
        InvalidInputError: No store there, or it holds no control record.
    """
    with _open(store_path) as store:
        policy, by_plane = read_control(store)
    planes: dict[str, dict[str, int]] = {}
    for plane, records in sorted(by_plane.items()):
        counts: Counter[str] = Counter()
        for record in records:
            counts["decisions"] += 1
            counts["fired"] += sum(len(f["targets"]) for f in record["fired"])
            counts["would_act"] += len(record["monitored"])
            counts["held"] += sum(len(h["targets"]) for h in record["held"])
            for action in record["actions"]:
                counts["actions" if action["status"] == "applied" else "action_errors"] += 1
            for verification in record["verifications"]:
                counts[str(verification["verdict"]).lower()] += 1
            counts["rollbacks"] += len(record["rollbacks"])
        names = ("decisions", "fired", "actions", "action_errors", "would_act", "held",
                 "successful", "failed", "inconclusive", "rollbacks")  # fmt: skip
        planes[plane] = {name: counts[name] for name in names}
    modes = {rule.id: rule.mode for rule in policy.document.rule}
    return {"store": str(store_path), "revision": policy.revision, "planes": planes, "rules": modes}


def decisions(
    store_path: Path, plane: str | None = None, *, all_: bool = False
) -> list[dict[str, Any]]:
    """The decision records in order, without their observations.

    Only those that did something (fired, acted, verified or rolled back) unless ``all_``.

    Raises:
        InvalidInputError: No store there, or it holds no control record.
    """
    with _open(store_path) as store:
        _, by_plane = read_control(store)
    rows = []
    for name, records in sorted(by_plane.items()):
        if plane is not None and name != plane:
            continue
        for record in records:
            busy = record["fired"] or record["actions"] or record["verifications"]
            if all_ or busy:
                rows.append({k: v for k, v in record.items() if k != "observation"})
    return sorted(rows, key=lambda r: (r["tick"], r["plane"], r["iteration"]))


def explain(store_path: Path, decision_id: str) -> dict[str, Any]:
    """One decision with why.

    Each fired rule's conditions against the observed values, and the later verification
    and rollback of each of the decision's actions.

    Raises:
        InvalidInputError: No store there, no control record, or no such decision.
    """
    with _open(store_path) as store:
        policy, by_plane = read_control(store)
    plane = decision_id.rsplit("-", 1)[0]
    records = by_plane.get(plane, [])
    record = next((r for r in records if r["decision_id"] == decision_id), None)
    if record is None:
        raise InvalidInputError(f"no decision {decision_id!r} in {store_path}")
    observation = (
        Observation.from_record(plane, int(record["tick"]), record["observation"])
        if record.get("observation") is not None
        else None
    )
    fired = []
    for group in record["fired"]:
        rule = policy.rules.get(group["rule"])
        for target in group["targets"]:
            inputs = []
            if rule is not None and observation is not None:
                for text in rule.when:
                    comparison = Comparison.parse(text)
                    value = observation.value(target, comparison.metric)
                    holds = comparison.holds(value)
                    inputs.append({"condition": text, "value": value, "holds": holds})
            fired.append(
                {"rule": group["rule"], "mode": group["mode"], "target": target,
                 "reason": rule.reason if rule else "", "inputs": inputs}
            )  # fmt: skip
    keys = {action["key"] for action in record["actions"]}
    later = [
        {"decision": r["decision_id"], **v}
        for r in records
        for v in r["verifications"]
        if v["key"] in keys
    ]
    return {
        "decision": {k: v for k, v in record.items() if k != "observation"},
        "fired": fired,
        "verified": later,
        "policy_revision": policy.revision,
    }
