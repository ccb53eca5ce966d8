import json

from engmetrics.catalog.schema import SCHEMA_PATH, indicator_schema, render_schema


def test_committed_schema_is_current():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), (
        "stale schema: run `python -m engmetrics.catalog.schema` and commit the result")


def test_schema_covers_both_file_forms_and_the_measure_union():
    schema = indicator_schema()
    refs = {item["$ref"] for item in schema["anyOf"]}
    assert refs == {"#/$defs/Indicator", "#/$defs/CatalogFile"}
    measure = schema["$defs"]["Calculation"]["properties"]["measure"]
    assert set(measure["discriminator"]["mapping"]) == {"count", "sum", "ratio", "percentile"}
    json.dumps(schema)
