"""Machine formats: ``json`` (versioned), ``sarif`` (2.1.0, code scanning), ``junit`` (CI test results)."""

from __future__ import annotations

import json
from typing import ClassVar, TextIO
from xml.etree import ElementTree as ET

from qaudit.sdk import Report, __version__

INFO_URI = "https://github.com/qaudit/qaudit"


class JsonReporter:
    """The report's versioned JSON document (schema e.g. ``qaudit.leak/1``)."""

    name: ClassVar[str] = "json"
    suffix: ClassVar[str] = ".json"
    description: ClassVar[str] = "versioned JSON (per-sample scores with --scores)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write ``result.to_json()``."""
        stream.write(json.dumps(result.to_json(), indent=1, allow_nan=False) + "\n")


def _uri(location: str) -> str:
    return location.replace("\\", "/").lstrip("./") if location else "model.json"


class SarifReporter:
    """SARIF 2.1.0 for code-scanning dashboards: one result per gated check (failures are errors)."""

    name: ClassVar[str] = "sarif"
    suffix: ClassVar[str] = ".sarif"
    description: ClassVar[str] = "SARIF 2.1.0 (GitHub code scanning)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write a SARIF log with one run."""
        rules: dict[str, dict] = {}
        results = []
        for f in result.findings:
            if f.rule_id not in rules:
                what = {"regression": f"{f.metric} regressed against the baseline",
                        "verdict": "LEAKS verdict (a test of 'no membership signal' was rejected)"}.get(
                            f.kind, f"{f.metric} exceeds its threshold")
                full = ("qaudit's verdict: a one-sided test of 'no membership signal' was rejected at the "
                        "report's family-wise alpha (Holm over attacks and slices)." if f.kind == "verdict" else
                        f"Membership-privacy metric '{f.metric}' measured by qaudit {result.kind}; higher means "
                        "more leakage.")
                rules[f.rule_id] = {
                    "id": f.rule_id, "name": f.rule_id.replace("/", "-"),
                    "shortDescription": {"text": f"{result.kind}: {what}"},
                    "fullDescription": {"text": full},
                    "defaultConfiguration": {"level": "error"},
                    "helpUri": INFO_URI,
                }
            entry = {
                "ruleId": f.rule_id,
                "level": "none" if f.passed else "error",
                "kind": "pass" if f.passed else "fail",
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(f.location or result.location)},
                                                    "region": {"startLine": 1}}}],
                "partialFingerprints": {"qauditCheck/v1": f"{f.rule_id}:{f.subject}"},
                "properties": {"subject": f.subject, "metric": f.metric, "value": f.value,
                               "threshold": f.threshold},
            }
            results.append(entry)
        if not result.findings:
            rules["qaudit/summary"] = {"id": "qaudit/summary", "shortDescription": {"text": f"{result.kind} summary"},
                                       "defaultConfiguration": {"level": "note"}, "helpUri": INFO_URI}
            results.append({"ruleId": "qaudit/summary", "level": "note", "kind": "informational",
                            "message": {"text": result.verdict},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(result.location)},
                                                                "region": {"startLine": 1}}}]})
        doc = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "qaudit", "version": __version__, "informationUri": INFO_URI,
                                    "rules": list(rules.values())}},
                "automationDetails": {"id": f"qaudit/{result.kind}/"},
                "results": results,
                "properties": {"schema": result.schema, "verdict": result.verdict, "status": result.status,
                               "measurements": result.to_json()["measurements"]},
            }],
        }
        stream.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")


class JUnitReporter:
    """JUnit XML: one test case per subject (attack) x gated metric."""

    name: ClassVar[str] = "junit"
    suffix: ClassVar[str] = ".xml"
    description: ClassVar[str] = "JUnit XML (one test case per attack x gated metric)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write a ``<testsuites>`` document."""
        suites = ET.Element("testsuites", name=f"qaudit {result.kind}")
        failures = sum(not f.passed for f in result.findings)
        cases = result.findings
        suite = ET.SubElement(suites, "testsuite", name=f"qaudit {result.kind}",
                              tests=str(max(len(cases), len(result.measurements) if not cases else 0)),
                              failures=str(failures), errors="0", skipped="0")
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="verdict", value=result.verdict)
        for key, value in result.seeds.items():
            ET.SubElement(props, "property", name=f"seed.{key}", value=str(value))
        for f in cases:
            op = {"threshold": "<=", "verdict": "> alpha (no LEAKS):"}.get(f.kind, "no regression beyond")
            case = ET.SubElement(suite, "testcase", classname=f"{result.kind}.{f.subject}",
                                 name=f"{f.metric} {op} {f.threshold:g}", time="0")
            if not f.passed:
                fail = ET.SubElement(case, "failure", message=f.message, type=f.kind)
                fail.text = f.message
        if not cases:  # no gating: one passing case per subject, recording its numbers
            for subject, values in result.measurements.items():
                case = ET.SubElement(suite, "testcase", classname=f"{result.kind}.{subject}", name="audit", time="0")
                out = ET.SubElement(case, "system-out")
                out.text = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
        ET.indent(suites)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n")
