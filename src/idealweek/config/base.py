"""The base of every config model: unknown keys are errors, settings are frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    # The docstrings under the fields describe the keys in `config schema` (load._describe_keys): pydantic's
    # use_attribute_docstrings would read this file's source on every start (issue 15).
    model_config = ConfigDict(extra="forbid", frozen=True)
