"""The postmortem standard: template, parsing, validation with file and line, import into the datasets,
and completeness scores per postmortem and per team (docs/incidents.md, "Postmortems")."""

from .completeness import WEIGHTS, completeness_by_team, completeness_per_postmortem, score
from .importer import FileOutcome, ImportResult, import_postmortems, load_folder
from .model import DEFAULT_FACTORS, Postmortem, load_taxonomy, parse_file, parse_text
from .template import fetch_incident, render_postmortem, write_postmortem
from .validate import PostmortemIssue, has_errors, validate

__all__ = [
    "DEFAULT_FACTORS", "WEIGHTS", "FileOutcome", "ImportResult", "Postmortem", "PostmortemIssue",
    "completeness_by_team", "completeness_per_postmortem", "fetch_incident", "has_errors", "import_postmortems",
    "load_folder", "load_taxonomy", "parse_file", "parse_text", "render_postmortem", "score", "validate",
    "write_postmortem",
]
