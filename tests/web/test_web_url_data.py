"""Labeled URL lists in the layouts external URL sets use (``input,label``), including copies with swapped labels."""

import numpy as np

from threatml.errors import ReadReport
from threatml.web.data import load_items


def _write(tmp_path):
    f = tmp_path / "test.csv"
    f.write_text('input,label\n'
                 'http://paypal.com-login.tk/webscr.php,malicious\n'
                 'example.org,legit\n'
                 '"http://x.example.net/a,b?c=1&amp;d=2",legit\n'
                 'has space.com/x,legit\n'
                 'https://www.oecd.org,malicious\n')
    return f


def test_input_label_csv_reads_quoted_urls_and_counts_skips(tmp_path):
    rep = ReadReport()
    d = load_items([str(_write(tmp_path))], "label", rep)
    assert d["item"].tolist() == ["http://paypal.com-login.tk/webscr.php", "example.org",
                                  "http://x.example.net/a,b?c=1&amp;d=2", "https://www.oecd.org"]
    assert d["y"].tolist() == [1, 0, 0, 1]
    assert rep.skipped_total() == 1  # the item holding a space


def test_inverted_copy_swaps_labels_and_says_so(tmp_path):
    rep = ReadReport()
    d = load_items([str(_write(tmp_path))], "label", rep, invert=True)
    assert d["y"].tolist() == [0, 1, 1, 0]
    assert set(d["family"]) <= {"", "benign"} and (d["family"][d["y"] == 0] == "benign").all()
    assert any("labels inverted" in reason for (_, reason) in rep.notes)
    assert np.issubdtype(d["y"].dtype, np.integer)
