"""A table shows a list of names as words; CSV and JSON keep the list as JSON."""

from __future__ import annotations

import io

from chataudit.render.output import emit, write_csv


def test_a_table_joins_a_list_of_names_and_csv_keeps_json() -> None:
    rows = [{"id": 1, "policies": ["legal_risk", "promise"], "facts": [{"a": 1}]}]
    table = io.StringIO()
    emit(rows, ["id", "policies", "facts"], out=table)
    assert "legal_risk, promise" in table.getvalue() and '["legal_risk"' not in table.getvalue()
    assert '{"a":1}' in table.getvalue()  # a list of objects stays JSON
    csv_out = io.StringIO()
    write_csv(rows, ["id", "policies"], out=csv_out)
    assert '"[""legal_risk"",""promise""]"' in csv_out.getvalue()
