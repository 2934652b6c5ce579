"""The HTML report opened in a real browser: headless Chromium (Debian's package, which
`make test` installs through `make chromium` where apt-get is usable) loads the page from
a file, runs its self-check, and the test reads the drawn DOM: the verdict text, every
chart with drawn elements, each mismatch row shown, no script error and no console
output. Screenshots go to reports/ (CI keeps them as artifacts)."""

from __future__ import annotations

import io
import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from pipeline.demo import DemoSettings, render, run_demo
from pipeline.faults import FaultRates
from pipeline.ledger_report import demo_page
from pipeline.report_html import Report, Row, Stage, Table, write_html
from tests.support.aws import fake_credentials

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ROOT / "reports"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MISSING = (
    "headless Chromium is not installed: `make chromium` installs Debian's package "
    "(apt-get install -y chromium, as root); `make test` runs it first"
)


def _browser() -> str:
    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        pytest.skip(MISSING)
    return found


def _chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _browser(),
            "--headless",
            "--no-sandbox",  # as root, and in containers
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _attribute(dom: str, name: str) -> str:
    found = re.search(rf'<body[^>]*\s{name}="([^"]*)"', dom)
    assert found, f"{name} missing on <body>: the page's self-check did not run"
    return found.group(1)


def _open(page: Path, tmp_path: Path, screenshot: str) -> str:
    """The page's DOM after load, checked for console output; its screenshots saved."""
    dumped = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    # The page logs nothing: any console line is a script error or a warning.
    console = [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    REPORTS.mkdir(exist_ok=True)
    for suffix, size in (("", "1100,2200"), ("-phone", "390,2200")):
        shot = REPORTS / f"{screenshot}{suffix}.png"
        taken = _chromium(tmp_path, f"--window-size={size}", f"--screenshot={shot}", page.as_uri())
        assert taken.returncode == 0, taken.stderr[-2000:]
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return dumped.stdout


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from fake_credentials(monkeypatch)


def test_the_demo_report_renders_its_verdict_and_charts_in_chromium(
    aws: None, tmp_path: Path
) -> None:
    _browser()  # skip before running anything where there is no browser
    # GIVEN the report of a small real demo run (in-process moto, faults on)
    settings = DemoSettings(
        transactions=120,
        accounts=8,
        wave_size=60,
        faults=FaultRates(crash_after_effect=0.1, lost_response=0.1, throttle=0.1),
    )
    with mock_aws():
        report = run_demo(settings, out=io.StringIO())
    page = write_html(
        demo_page(report, render(report).partition("VERDICT: ")[2]), tmp_path / "demo.html"
    )
    # WHEN Chromium opens it
    dom = _open(page, tmp_path, "report-page")
    # THEN the verdict is at the top, every chart drew, and no script failed
    assert "VERDICT: PASS" in dom and "every balance matches" in dom
    assert dom.index('id="verdict"') < dom.index("<svg")
    assert _attribute(dom, "data-checked") == "yes"
    assert _attribute(dom, "data-errors") == "0"
    assert _attribute(dom, "data-charts") == "3"
    drawn = [int(n) for n in re.findall(r'<svg class="chart"[^>]*data-drawn="(\d+)"', dom)]
    assert len(drawn) == 3 and all(n > 0 for n in drawn), drawn
    assert 'data-outcome="processed"' in dom and 'class="fault"' in dom
    assert _attribute(dom, "data-mismatches") == "0"


def _recorded_stage() -> Stage:
    """A recorded timeline (seeded): a minute of deliveries, faults, a DLQ that fills and
    is redriven, and a balance table with two mismatches."""
    rng = random.Random(5)
    timeline = {
        second: {
            "processed": rng.randint(5, 30),
            "duplicate": rng.randint(0, 8),
            "failed": rng.randint(0, 3),
            "crashed": rng.choice([0, 0, 10]),
        }
        for second in range(60)
    }
    faults = [(rng.uniform(0, 60), rng.choice(["throttled", "stalls"])) for _ in range(25)]
    dlq = [(float(t), min(t // 4, 12) if t < 45 else 0) for t in range(0, 61, 2)]
    rows = [Row([f"acct-{i}/EUR", "100", "1", "100", "1"]) for i in range(6)]
    rows[2] = Row(["acct-2/EUR", "100", "1", "200", "2"], mismatch=True, note="applied twice")
    rows[4] = Row(["acct-4/EUR", "100", "1", "0", "0"], mismatch=True, note="lost")
    table = Table("Balances", ["account", "expected", "n", "found", "n"], rows)
    return Stage(
        name="ledger stage",
        duration=60.0,
        timeline=timeline,
        faults=faults,
        dlq=dlq,
        marks=[(45.0, "redrive")],
        facts=[("sent", "1,400")],
        tables=[table],
        notes=["double explained: acct-9/EUR: 2 applied, 1 sent (a lease takeover)"],
    )


def test_a_failed_verdict_shows_each_mismatch_and_the_redrive(tmp_path: Path) -> None:
    # GIVEN a two-stage report from recorded timelines, its verdict failed
    report = Report(
        title="Two stages",
        passed=False,
        verdict="acct-2/EUR: applied twice; acct-4/EUR: lost",
        stages=[_recorded_stage(), Stage(name="second stage", timeline={0: {"processed": 3}})],
    )
    page = write_html(report, tmp_path / "failed.html")
    # WHEN Chromium opens it
    dom = _open(page, tmp_path, "report-page-failed")
    # THEN the failure, both mismatches and the redrive mark are on the page
    assert "VERDICT: FAIL" in dom and "acct-4/EUR: lost" in dom
    assert _attribute(dom, "data-errors") == "0"
    assert _attribute(dom, "data-mismatches") == "2"
    assert dom.count('<tr class="mismatch">') == 2 and dom.count("MISMATCH: ") == 2
    assert 'class="mark"' in dom and ">redrive</text>" in dom
    assert _attribute(dom, "data-charts") == "6"
    drawn = [int(n) for n in re.findall(r'<svg class="chart"[^>]*data-drawn="(\d+)"', dom)]
    # the second stage recorded deliveries only: no fault mark, no DLQ sample
    assert len(drawn) == 6 and all(n > 0 for n in drawn[:4]) and drawn[4:] == [0, 0], drawn
    assert "no faults injected" in dom and "DLQ depth not sampled" in dom
