"""The Markdown section and summaries of benchmarks/compare_report.py."""

from __future__ import annotations

from pathlib import Path


def test_summary_is_median_and_spread(bench: Path):
    import compare_report as rep

    runs = [{"seconds": s, "rss_mib": r} for s, r in ((3.0, 10.0), (1.0, 30.0), (2.0, 20.0))]
    assert rep.summarise(runs) == {"median": 2.0, "min": 1.0, "max": 3.0, "rss_mib_max": 30.0}


def test_section_is_appended_then_replaced(tmp_path: Path, bench: Path):
    import compare_report as rep

    md = tmp_path / "b.md"
    md.write_text("# B\n\nbefore\n")
    rep.replace_section(md, rep.section(None))
    first = md.read_text()
    assert first.startswith("# B\n\nbefore\n\n" + rep.START) and first.endswith(rep.END + "\n")
    assert rep.PENDING in first
    md.write_text(first + "\n## after\n")
    rep.replace_section(md, rep.START + "\nnew\n" + rep.END + "\n")
    text = md.read_text()
    assert rep.PENDING not in text and "\nnew\n" in text
    assert text.startswith("# B\n\nbefore\n") and text.endswith("\n## after\n")
    assert text.count(rep.START) == 1


def test_tables_show_ratio_and_copied_cells(bench: Path):
    import compare_report as rep

    def cell(seconds: float, rss: float) -> dict:
        return {"summary": {"median": seconds, "min": seconds, "max": seconds, "rss_mib_max": rss}}

    result = {
        "spec": {"files": 20_000, "size": 4096},
        "ops": {
            "ingest": {
                "commands": {"dvc": "add", "gd": "close"},
                "floor": cell(0.5, 0),
                "dvc": cell(6.0, 90),
                "gd": cell(2.0, 45),
            },
        },
    }
    (row,) = [line for line in rep.table_ab("a", result) if line.startswith("| ingest")]
    assert (
        row
        == "| ingest | add | close | 0.50 | 6.00 (6.00-6.00) | 2.00 (2.00-2.00) | 3.00 | 90 | 45 |"
    )
    assert rep.table_ab("a", result)[0] == "### (a) 20,000 x 4 KiB"


def test_the_docs_hold_the_section_once(bench: Path):
    import compare_report as rep

    text = (bench.parent / "docs" / "benchmarks.md").read_text()
    assert text.count(rep.START) == 1 and text.count(rep.END) == 1
    assert text.index(rep.START) < text.index(rep.INTRO) < text.index(rep.END)
    readme = (bench.parent / "README.md").read_text()
    assert "## Benchmarks" in readme and "python3 benchmarks/compare_dvc.py" in readme
