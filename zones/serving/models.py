"""The HTTP service's request and response bodies (pydantic models, also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScrubRequest(BaseModel):
    """Exactly one of `text` (a document) or `records` (JSON objects, redacted as one table)."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, description="Redacted as a .txt file holding it.")
    records: list[dict[str, Any]] | None = Field(
        None, description="Redacted as one .jsonl file holding them (one table)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> ScrubRequest:
        if (self.text is None) == (self.records is None):
            raise ValueError('send exactly one of "text" or "records"')
        return self


class ScrubResponse(BaseModel):
    text: str | None = None
    records: list[dict[str, Any]] | None = None
    policy: str = Field(description="sha256 of the policy that redacted this")
    entities: dict[str, int] = Field(description="values replaced, per entity type")


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


class ScanFinding(BaseModel):
    entity_type: str
    start: int
    end: int
    score: float


class ScanResponse(BaseModel):
    findings: list[ScanFinding]
    entities: dict[str, int]
    policy: str


class Health(BaseModel):
    status: str
    policy: str


class ErrorBody(BaseModel):
    error: str
