from app.reports import report_name


def test_report_name():
    assert report_name("/a/b/c.txt") == "/a/b/c.report"
