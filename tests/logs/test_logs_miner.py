import json

import pytest
from shared_data import DATASETS

from threatml.logs.evaluation import grouping_accuracy, loghub_accuracy, split_content
from threatml.logs.formats import KNOWN_FORMATS, header_regex
from threatml.logs.masking import Masker
from threatml.logs.miner import TemplateMiner

LOGHUB = DATASETS / "logs" / "loghub-2k"


def test_masking_covers_ips_numbers_hex_paths_uuids_dates():
    m = Masker()
    got = m.mask("at 2024-01-02 10:11:12 from 192.168.1.20:443 read /var/lib/app/db.sqlite "
                 "id 550e8400-e29b-41d4-a716-446655440000 ptr 0xdeadbeef size 4096 bytes")
    assert got == "at <*> <*> from <*> read <*> id <*> ptr <*> size <*> bytes"
    assert m.mask("ext4 sshd2 ok") == "ext4 sshd2 ok"  # digits inside words stay


def test_miner_groups_and_separates():
    m = TemplateMiner()
    a = m.add_many([f"Failed password for user{i} from 10.0.0.{i} port {1000 + i}" for i in range(20)])
    b = m.add_many([f"Accepted publickey for root from 10.0.1.{i}" for i in range(5)])
    assert len(set(a)) == 1 and len(set(b)) == 1 and a[0] != b[0]
    assert m.template(a[0]) == "Failed password for <*> from <*> port <*>"


def test_miner_save_load_continue(tmp_path):
    m = TemplateMiner()
    first = m.add_many([f"job {i} finished in {i * 3} ms" for i in range(50)] + ["disk /dev/sda1 full"])
    m.save(tmp_path / "state.json")
    json.loads((tmp_path / "state.json").read_text())  # plain JSON
    m2 = TemplateMiner.load(tmp_path / "state.json")
    assert m2.templates() == m.templates()
    nxt = m2.add_many(["job 99 finished in 5 ms", "disk /dev/sdb2 full", "brand new message here"])
    assert nxt[0] == first[0] and nxt[1] == first[-1] and nxt[2] not in set(first)
    assert m2.lines == 54


def test_miner_memory_is_capped():
    m = TemplateMiner(max_clusters=50, cache_size=100)
    m.add_many([f"unique{i} word{i} thing{i}" for i in range(500)])
    assert len(m.clusters) <= 50 and len(m._cache) <= 100
    assert m.match("unique499 word499 thing499") is not None  # recent clusters survive


def test_grouping_accuracy_definition():
    assert grouping_accuracy(["a", "a", "b", "c"], [1, 1, 2, 2]) == 0.5
    assert grouping_accuracy(["a", "b"], [1, 2]) == 1.0
    assert grouping_accuracy(["a", "a"], [1, 2]) == 0.0


def test_header_regex_extracts_content():
    assert split_content(["081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating"],
                         KNOWN_FORMATS["HDFS"]) == ["PacketResponder 1 terminating"]
    assert header_regex(KNOWN_FORMATS["Apache"].layout).match("[Sun Dec 04 04:47:44 2005] [error] x y")


@pytest.mark.skipif(not LOGHUB.is_dir(), reason=f"loghub 2k samples not found under {LOGHUB}")
@pytest.mark.parametrize("system,floor", [("HDFS", 0.9975), ("BGL", 0.9625), ("Linux", 0.69), ("Proxifier", 0.5265),
                                          ("OpenSSH", 0.7885), ("Thunderbird", 0.955)])
def test_loghub_accuracy_reaches_published_drain(system, floor):
    r = loghub_accuracy(LOGHUB / system, system, tuned=True)
    assert r["accuracy"] >= floor - 1e-9
