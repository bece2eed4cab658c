"""Artifacts as OpenLineage run events (https://openlineage.io/spec), built with the
openlineage-python client's models: one COMPLETE event per sandbox session, the zone version as
its input dataset and each released file as an output dataset, so Marquez- or DataHub-style
catalogues show which model came from which data under which policy. Only built, never sent:
piizone runs air-gapped, and the file is handed to whatever ships events out of the zone."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset, documentation_job
from openlineage.client.serde import Serde

from piizone.zones import audit
from piizone.zones.lineage.artifacts import Artifact, list_artifacts

PRODUCER = "https://github.com/piizone/piizone"
NAMESPACE = "piizone"


def _run_id(session: str) -> str:
    # A stable UUID per session: every artifact of one session belongs to one run.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"piizone:session:{session}"))


def run_events(artifacts: list[Artifact]) -> list[dict[str, Any]]:
    by_session: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        by_session.setdefault(artifact.session, []).append(artifact)
    events = []
    for session, items in by_session.items():
        first = items[0]
        zone = InputDataset(
            namespace=NAMESPACE,
            name=f"zone/{first.zone}",
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=f"{first.zone_id}:v{first.zone_version}"
                )
            },
        )
        outputs = [
            OutputDataset(
                namespace=NAMESPACE,
                name=f"artifact/{a.id}/{a.name}",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                        datasetVersion=a.sha256
                    )
                },
            )
            for a in items
        ]
        job = Job(
            namespace=NAMESPACE,
            name=f"sandbox/{first.zone}/{first.command}",
            facets={
                "documentation": documentation_job.DocumentationJobFacet(
                    description=(
                        f"piizone sandbox session {session} on zone {first.zone} "
                        f"v{first.zone_version} (policy sha256 {first.policy_sha256}, "
                        f"code sha256 {first.code_sha256 or 'not given'}) by {first.user}"
                    )
                )
            },
        )
        event = RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=max(a.created for a in items),
            producer=PRODUCER,
            run=Run(runId=_run_id(session)),
            job=job,
            inputs=[zone],
            outputs=outputs,
        )
        events.append(Serde.to_dict(event))
    return events


def export_openlineage(zone: str | None = None, home: Path | None = None) -> list[dict[str, Any]]:
    """The run events of every artifact (of `zone`); audited as artifacts.export."""
    audit.open_audit_log(home).check_writable()
    events = run_events(list_artifacts(home, zone=zone))
    details = {"format": "openlineage", "events": len(events)}
    audit.record("artifacts.export", zone=zone, details=details, home=home)
    return events
