"""Peer review and self-scoring (issue 13): anchored sessions, assignment, scoring rules, blind review,
calibration agreement, disputes, the four scores, and verify catching a review changed behind the
tool's back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chataudit.reviews import calibration, sessions
from chataudit.store import Archive
from reviews_support import run, run_json, scores, service_archive, write_ratings


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return service_archive(tmp_path_factory.mktemp("reviews"))


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the service archive (with its signing key) for each test."""
    import shutil

    for path in template.parent.iterdir():
        if path.name.startswith(template.name):
            shutil.copy(path, tmp_path / path.name)
    return tmp_path / template.name


def verify_lines(db: Path) -> str:
    return run(db, "verify", ok=False).output


# ---- anchoring ----------------------------------------------------------------------------------------

def test_a_session_is_anchored_by_its_first_and_last_message_not_its_number(db: Path) -> None:
    reviewed = run_json(db, "review", "score", "--session", "13-1", *scores(7), operator="ZhangWei")
    assert reviewed["session"] == "13/40-43" and reviewed["agents"] == ["agent_li"]
    with Archive(db) as archive:
        options = sessions.pipeline_options(archive, conversations=(13,))
        options.session_gap_s = 3600  # a shorter gap splits the conversation: session numbers move
        from chataudit.quality.report import analyze

        rows = analyze(archive, options)["session_rows"]
    assert [(r["session"], r["first_message"], r["last_message"]) for r in rows] == [("13-1", 40, 41), ("13-2", 42, 43)]
    shown = run_json(db, "review", "show", str(reviewed["id"]))
    assert [m["id"] for m in shown["transcript"]] == [40, 41, 42, 43]
    assert shown["session"]["session"] == "13/40-43" and shown["session"]["auto"]["score"] == 93.12


def test_an_anchor_that_is_not_a_pipeline_session_is_refused(db: Path) -> None:
    refused = run(db, "review", "score", "--session", "13/40-42", *scores(), operator="ZhangWei", ok=False)
    assert refused.exit_code == 1 and "no service session 13/40-42" in refused.output
    assert "Traceback" not in refused.output


# ---- assignment ----------------------------------------------------------------------------------------

def test_random_assignment_is_seeded_recorded_and_repeatable(db: Path, template: Path, tmp_path: Path) -> None:
    first = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "2", "--seed", "42",
                     "--reviewer", "LiNa", "--reviewer", "agent_zhao")
    other = tmp_path / "other"
    other.mkdir()
    import shutil

    for path in template.parent.iterdir():
        if path.name.startswith(template.name):
            shutil.copy(path, other / path.name)
    again = run_json(other / template.name, "review", "assign", "--week", "2026-03-11", "--per-agent", "2",
                     "--seed", "42", "--reviewer", "LiNa", "--reviewer", "agent_zhao")
    assert first["picked"] == again["picked"] and first["seed"] == 42 and first["week"] == "2026-W11"
    assert len(first["picked"]) == 6  # two per agent
    entries = run_json(db, "audit", "--command", "review assign")
    assert entries[-1]["facts"]["seed"] == 42 and len(entries[-1]["facts"]["created_reviews"]) == 6


def test_nobody_is_assigned_their_own_session_and_reviewers_take_turns(db: Path) -> None:
    result = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "2", "--seed", "1",
                      "--reviewer", "agent_li", "--reviewer", "agent_zhao", "--reviewer", "LiNa")
    reviews = result["reviews"]
    assert reviews and all(r["reviewer"] not in r["agents"] for r in reviews)
    assert {r["reviewer"] for r in reviews} == {"agent_li", "agent_zhao", "LiNa"}


@pytest.mark.parametrize("rule, expected", [
    ("lowest", {0.0}),  # the complaint sessions (a critical item zeroes them)
    ("sensitive", {0.0}),
    ("unresolved", {34.0}),  # the first unresolved session of each agent: the slow one
])
def test_rules_pick_by_automatic_score_sensitive_words_and_resolution(db: Path, rule: str, expected: set) -> None:
    result = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", rule,
                      "--reviewer", "LiNa")
    shown = [run_json(db, "review", "show", str(r["id"]))["session"]["auto"]["score"] for r in result["reviews"]]
    assert len(shown) == 3 and set(shown) == expected


def test_self_scoring_tasks_go_to_the_agent(db: Path) -> None:
    result = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", "lowest",
                      "--reviewer", "LiNa", "--self-scoring", "--blind")
    own = [r for r in result["reviews"] if r["kind"] == "self"]
    assert len(own) == 3 and all(r["reviewer"] in r["agents"] and not r["blind"] for r in own)
    assert all(r["blind"] for r in result["reviews"] if r["kind"] == "peer")
    mine = run_json(db, "review", "list", "--mine", operator="客服小李")  # the roster name is the same person
    assert {r["kind"] for r in mine} == {"self", "peer"} and all("agent_li" in r["agents"] for r in mine)


# ---- scoring rules ------------------------------------------------------------------------------------------

def test_nobody_peer_reviews_their_own_session_and_self_scoring_is_of_ones_own(db: Path) -> None:
    refused = run(db, "review", "score", "--session", "1-1", *scores(), operator="agent_li", ok=False)
    assert "nobody peer-reviews their own session" in refused.output
    refused = run(db, "review", "score", "--session", "1-1", "--self", *scores(), operator="LiNa", ok=False)
    assert "self-scoring is of one's own sessions only" in refused.output
    own = run_json(db, "review", "score", "--session", "1-1", "--self", *scores(9), operator="客服小李")
    assert own["kind"] == "self" and own["total"] == 9.0
    again = run(db, "review", "score", "--session", "1-1", "--self", *scores(9), operator="agent_li", ok=False)
    assert "already submitted" in again.output


def test_a_task_is_scored_by_its_reviewer_only_once(db: Path) -> None:
    task = run_json(db, "review", "assign", "--week", "2026-W11", "--per-agent", "1", "--rule", "lowest",
                    "--reviewer", "LiNa")["reviews"][0]
    refused = run(db, "review", "score", str(task["id"]), *scores(), operator="ZhangWei", ok=False)
    assert "assigned to LiNa, not to ZhangWei" in refused.output
    done = run_json(db, "review", "score", str(task["id"]), *scores(6), "--critical", "agent_abuse", operator="李娜")
    assert done["status"] == "submitted" and done["total"] == 0.0 and done["critical"] == ["agent_abuse"]
    assert "already submitted" in run(db, "review", "score", str(task["id"]), *scores(), operator="LiNa",
                                      ok=False).output


def test_scores_from_a_yaml_file_with_comments_anchored_to_messages(db: Path, tmp_path: Path) -> None:
    card = tmp_path / "score.yaml"
    card.write_text("scores: {响应速度: 9, 专业度: 8, 问题解决率: 10, 用户体验: 7.5, 情绪管理: 9}\n"
                    "comments:\n  - {message: 2, text: 问候规范}\nnote: 很好\n", encoding="utf-8")
    done = run_json(db, "review", "score", "--session", "1/1-4", "--file", str(card), "--speed", "6",
                    operator="LiNa")
    assert done["scores"] == {"speed": 6.0, "professionalism": 8.0, "resolution": 10.0, "experience": 7.5,
                              "emotion": 9.0}
    assert done["comments"] == [{"message": 2, "text": "问候规范"}] and done["note"] == "很好"
    assert done["total"] == round((25 * 6 + 20 * 8 + 25 * 10 + 15 * 7.5 + 15 * 9) / 100, 2)


@pytest.mark.parametrize("args, message", [
    (["--speed", "11"], "speed 11.0 is not a number 0-10"),
    (["--comment", "20:not here"], "message 20 is not in session 1/1-4"),
    (["--critical", "rudeness"], "'rudeness' is not a critical item of the scorecard"),
])
def test_bad_scores_are_one_line_errors(db: Path, args: list[str], message: str) -> None:
    given = scores(5)
    if args[0] == "--speed":
        given = given[2:]
    result = run(db, "review", "score", "--session", "1-1", *given, *args, operator="LiNa", ok=False)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    with Archive(db) as archive:
        assert archive.db.execute("SELECT count(*) FROM reviews").fetchone()[0] == 0


def test_a_missing_dimension_is_refused(db: Path) -> None:
    result = run(db, "review", "score", "--session", "1-1", "--speed", "5", operator="LiNa", ok=False)
    assert "missing professionalism, resolution, experience, emotion" in result.output


# ---- blind review and calibration --------------------------------------------------------------------------

def test_a_blind_reviewer_sees_no_other_score_until_they_submit(db: Path) -> None:
    made = run_json(db, "review", "calibrate", "2-1", "--reviewer", "LiNa", "--reviewer", "ZhangWei")
    first, second = made["reviews"]
    run(db, "review", "score", str(first["id"]), *scores(4), operator="LiNa")
    before = run_json(db, "review", "show", str(second["id"]), operator="ZhangWei")
    assert before["hidden"] and before["session"]["auto"] is None
    assert [r["scores"] for r in before["reviews"]] == [None] and before["reviews"][0]["hidden"]
    listed = run_json(db, "review", "list", operator="ZhangWei")
    assert [r["total"] for r in listed if r["reviewer"] == "LiNa"] == [None]
    run(db, "review", "score", str(second["id"]), *scores(5), operator="ZhangWei")
    after = run_json(db, "review", "show", str(second["id"]), operator="ZhangWei")
    assert not after["hidden"] and after["session"]["auto"]["score"] == 34.0
    assert after["reviews"][0]["total"] == 4.0
    lead = run_json(db, "review", "show", str(first["id"]), operator="lead")
    assert lead["session"]["auto"] is not None  # the lead holds no blind review


def test_a_calibration_refuses_the_sessions_own_agent(db: Path) -> None:
    refused = run(db, "review", "calibrate", "2-1", "--reviewer", "LiNa", "--reviewer", "客服小李", ok=False)
    assert "is an agent of this session" in refused.output


def test_krippendorff_alpha_matches_the_published_example() -> None:
    """Krippendorff (2011), Computing Krippendorff's Alpha-Reliability, section C: 4 observers, 12 units,
    missing values; published α interval = 0.849, nominal = 0.743."""
    observers = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
                 [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
                 [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
                 [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    units = [list(unit) for unit in zip(*observers)]
    assert round(calibration.alpha(units), 3) == 0.849
    assert round(calibration.alpha(units, calibration.nominal), 3) == 0.743
    assert calibration.alpha([[3, 3], [3, 3]]) is None  # no variation: undefined
    assert calibration.alpha([[1, 2]]) == 0  # one unit: its disagreement is all the variation there is
    assert calibration.alpha([[1, 1], [5, 5], [9, 9]]) == 1


def test_calibration_reports_agreement_per_dimension(db: Path) -> None:
    for session, (a, b) in (("1-1", (8, 8)), ("2-1", (3, 4)), ("5-1", (9, 9))):
        made = run_json(db, "review", "calibrate", session, "--reviewer", "LiNa", "--reviewer", "ZhangWei")
        run(db, "review", "score", str(made["reviews"][0]["id"]), *scores(a), operator="LiNa")
        run(db, "review", "score", str(made["reviews"][1]["id"]), *scores(b), operator="ZhangWei")
    result = run_json(db, "review", "calibration")
    expected = round(calibration.alpha([[8, 8], [3, 4], [9, 9]]), 4)
    assert result["units"] == 3 and result["alpha"]["speed"] == expected == result["alpha_total"]
    assert 0.9 < expected < 1


# ---- disputes --------------------------------------------------------------------------------------------

def _submitted(db: Path) -> dict:
    return run_json(db, "review", "score", "--session", "1-1", *scores(5), operator="LiNa")


def test_the_agent_contests_once_and_a_lead_settles(db: Path) -> None:
    review = _submitted(db)
    assert "only its agent may contest" in run(db, "review", "contest", str(review["id"]), "--reason", "x",
                                                operator="ZhangWei", ok=False).output
    contested = run_json(db, "review", "contest", str(review["id"]), "--reason", "客户最后确认了", operator="agent_li")
    assert contested["status"] == "contested" and contested["contest"]["reason"] == "客户最后确认了"
    again = run(db, "review", "contest", str(review["id"]), "--reason", "再次", operator="agent_li", ok=False)
    assert "a review is contested once" in again.output
    assert "is a party to review" in run(db, "review", "settle", str(review["id"]), "--outcome", "upheld",
                                         "--reason", "r", operator="LiNa", ok=False).output
    settled = run_json(db, "review", "settle", str(review["id"]), "--outcome", "amended", "--reason", "确认过",
                       *scores(7), operator="ZhangWei")
    assert settled["status"] == "settled" and settled["scores"]["speed"] == 5.0
    assert settled["final_scores"]["speed"] == 7.0 and settled["final_total"] == 7.0
    assert "already settled" in run(db, "review", "settle", str(review["id"]), "--outcome", "upheld",
                                    "--reason", "r", operator="ZhangWei", ok=False).output
    commands = [e["command"] for e in run_json(db, "audit") if e["command"].startswith("review ")]
    assert commands == ["review score", "review contest", "review settle"]
    assert "OK" in verify_lines(db)


def test_an_upheld_settlement_keeps_the_scores(db: Path) -> None:
    review = _submitted(db)
    run(db, "review", "contest", str(review["id"]), "--reason", "no", operator="agent_li")
    refused = run(db, "review", "settle", str(review["id"]), "--outcome", "upheld", "--reason", "r", *scores(9),
                  operator="ZhangWei", ok=False)
    assert "give new scores only with --outcome amended" in refused.output
    settled = run_json(db, "review", "settle", str(review["id"]), "--outcome", "upheld", "--reason", "fair",
                       operator="ZhangWei")
    assert settled["final_total"] == 5.0 and settled["settlement"]["outcome"] == "upheld"


# ---- the record ---------------------------------------------------------------------------------------------

def test_the_trigger_refuses_a_one_line_rewrite_of_a_submitted_score(db: Path) -> None:
    review = _submitted(db)
    with sqlite3.connect(db) as con, pytest.raises(sqlite3.IntegrityError, match="submitted once"):
        con.execute("UPDATE reviews SET total = 9.5 WHERE id = ?", (review["id"],))
    with sqlite3.connect(db) as con, pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        con.execute("DELETE FROM reviews WHERE id = ?", (review["id"],))


@pytest.mark.parametrize("tamper, expected", [
    ("DROP TRIGGER reviews_submit_recorded; UPDATE reviews SET scores = json_set(scores, '$.speed', 10)",
     "review 1: its scores differs from what `review score` recorded"),
    ("DROP TRIGGER reviews_submitted_kept; DELETE FROM reviews", "review 1: `review score` created it"),
    ("INSERT INTO reviews (session, kind, reviewer, created_at, created_by) VALUES (1, 'peer', 'x', 't', 'x')",
     "review 2: it is in the reviews table, but no audit entry created it"),
    ("DROP TRIGGER reviews_contest_recorded; UPDATE reviews SET contested_at = 't', contested_by = 'agent_li'",
     "review 1: it is marked contested"),
    ("DROP TRIGGER review_sessions_kept; UPDATE review_sessions SET last_message = 3",
     "review session 1: its last_message differs from what audit entry"),
])
def test_verify_names_a_review_changed_behind_the_tools_back(db: Path, tamper: str, expected: str) -> None:
    _submitted(db)
    assert "OK" in verify_lines(db)
    with sqlite3.connect(db) as con:
        con.executescript(tamper)
    output = verify_lines(db)
    assert "FAILED" in output and expected in output, output


def test_a_tampered_review_cannot_be_contested(db: Path) -> None:
    review = _submitted(db)
    with sqlite3.connect(db) as con:
        con.executescript("DROP TRIGGER reviews_submit_recorded; UPDATE reviews SET total = 9.9")
    refused = run(db, "review", "contest", str(review["id"]), "--reason", "x", operator="agent_li", ok=False)
    assert "cannot be changed: its total differs" in refused.output
    assert run_json(db, "review", "list")[0]["tampered"].startswith("its total differs")


# ---- four scores ---------------------------------------------------------------------------------------------

def test_the_report_sets_self_peer_auto_and_csat_side_by_side(db: Path, tmp_path: Path) -> None:
    run(db, "quality", "--ratings", str(write_ratings(tmp_path)), "--json")
    run(db, "review", "score", "--session", "1-1", "--self", *scores(9), operator="agent_li")
    run(db, "review", "score", "--session", "1-1", *scores(6), operator="LiNa")
    run(db, "review", "score", "--session", "2-1", *scores(4), operator="ZhangWei")
    result = run_json(db, "review", "report", "--since", "2026-03-09", "--until", "2026-03-15")
    li = next(a for a in result["agents"] if a["agent"] == "agent_li")
    assert li["self"] == 9.0 and li["peer"] == 5.0 and li["self_reviews"] == 1 and li["peer_reviews"] == 2
    assert li["csat"] == 6.25 and li["ratings"] == 2  # ratings 5 and 2 of 1-5: 1.0 and 0.25
    assert li["gaps"]["self_minus_peer"] == 4.0 and li["gaps"]["peer_minus_csat"] == -1.25
    assert li["gaps"]["peer_minus_auto"] == round(5.0 - li["auto"], 2)
    assert result["reviews"]["submitted"] == 3 and result["disputes"]["open"] == []


def test_the_quality_report_carries_the_four_scores(db: Path, tmp_path: Path) -> None:
    run(db, "review", "score", "--session", "1-1", *scores(6), operator="LiNa")
    report = run_json(db, "quality", "--roster", str(Path(__file__).parent.parent / "samples" / "roster.csv"))
    li = next(a for a in report["review_scores"] if a["agent"] == "agent_li")
    assert li["peer"] == 6.0 and li["auto"] is not None
    html = tmp_path / "q.html"
    run(db, "quality", "--roster", str(Path(__file__).parent.parent / "samples" / "roster.csv"), "--html", str(html))
    assert "自评 · 互评 · 质检 · 客户评价" in html.read_text(encoding="utf-8")


def test_enterprise_mode_checks_a_transcript_read_against_the_authorizations(db: Path) -> None:
    review = _submitted(db)
    run(db, "init", "--mode", "enterprise")
    refused = run(db, "review", "show", str(review["id"]), operator="LiNa", ok=False)
    assert refused.exit_code == 1 and "not authorized" in refused.output and "agent_li" in refused.output
    entries = run_json(db, "audit", "--command", "review show")
    assert entries[-1]["outcome"] == "refused"
