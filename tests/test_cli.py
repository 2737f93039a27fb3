"""`python -m kpi`: init and summary, with exit codes."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kpi.catalog.model import default_catalog
from kpi.cli import SUMMARY_COLUMNS, main
from kpi.common.access import Scope
from kpi.store import db, queries

ROOT = Path(__file__).resolve().parents[1]


def test_summary_csv_matches_query(sample_db, capsys):
    assert main(["summary", "--db", str(sample_db), "--year", "2023-2024", "--round", "CN", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == SUMMARY_COLUMNS
    c = db.connect(sample_db)
    df = queries.district_summary(c, default_catalog(), Scope.everything(), "2023-2024", "CN")
    c.close()
    assert len(rows) == int((df.schools_expected > 0).sum())
    by_key = {(r.indicator_code, r.level): r for r in df.itertuples()}
    for r in rows:
        q = by_key[(r["indicator_code"], r["level"])]
        assert (r["school_year"], r["round"]) == ("2023-2024", "CN")
        assert int(r["schools_reporting"]) == q.schools_reporting
        assert int(r["schools_meeting"]) == q.schools_meeting
        if r["value"]:
            assert float(r["value"]) == pytest.approx(q.value)
            assert float(r["numerator"]) / float(r["denominator"]) == pytest.approx(float(r["value"]))
    online = {r["level"]: float(r["target"]) for r in rows if r["indicator_code"] == "ty_trong_truc_tuyen"}
    assert online == {"TH": 0.15, "THCS": 0.175}


def test_summary_json_and_level(sample_db, capsys):
    assert main(["summary", "--db", str(sample_db), "--year", "2022-2023", "--round", "HK1",
                 "--level", "TH", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and {d["level"] for d in data} == {"TH"}


def test_unknown_period_is_refused_in_vietnamese(sample_db, capsys):
    assert main(["summary", "--db", str(sample_db), "--year", "2030-2031", "--round", "CN"]) == 1
    assert "Không có kỳ báo cáo 2030-2031 CN" in capsys.readouterr().err


def test_usage_error_exit_2(sample_db):
    with pytest.raises(SystemExit) as e:
        main(["summary", "--year", "2023-2024", "--round", "HK3"])
    assert e.value.code == 2


def test_init_refuses_to_overwrite_real_data(tmp_path, capsys):
    path = tmp_path / "real.duckdb"
    assert main(["init", "--db", str(path)]) == 0
    assert queries.meta(db.connect(path))["is_sample"] == "false"
    before = path.read_bytes()
    assert main(["init", "--db", str(path), "--sample"]) == 1
    assert "dữ liệu thật" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert main(["init", "--db", str(path), "--sample", "--schools", "20", "--years", "1", "--force"]) == 0
    c = db.connect(path)
    assert c.execute("SELECT count(*) FROM schools").fetchone()[0] == 20
    c.close()


def test_module_entry_point(sample_db):
    out = subprocess.run([sys.executable, "-m", "kpi", "summary", "--db", str(sample_db), "--year", "2023-2024",
                          "--round", "CN", "--format", "csv"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0] == ",".join(SUMMARY_COLUMNS)
