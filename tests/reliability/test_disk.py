"""A tmpfs that fills up, then a store that turns read-only, in a user+mount namespace (no root; nothing leaks
onto the host): writes fail with one clear line, reads go on, and the store works again once it is writable."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import BIN, ROOT, SAMPLE, one_line

CHILD = Path(__file__).with_name("disk_child.py")


def have_user_namespaces() -> bool:
    unshare = shutil.which("unshare")
    return bool(unshare) and subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not have_user_namespaces(), reason="needs user namespaces (unshare -rm) to mount a small tmpfs")
def test_disk_full_and_read_only_store_give_clear_errors_and_stay_readable(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["unshare", "-rm", str(BIN / "python"), str(CHILD), str(mount), str(BIN),
                           str(SAMPLE), str(tmp_path / "gauge.txt"), str(tmp_path / "bridge.txt")],
                          capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    out = json.loads(lines[-1].removeprefix("RESULT "))
    assert out["filled"] == "No space left on device"
    assert "Witkoff" in out["ask_before"]["ok"]
    full = out["ingest_full"]
    assert full.get("error") == "StoreNotWritable", full
    assert one_line(full["message"]).startswith(f"store at {mount / 'data' / 'chroma'} is full (")
    assert "Witkoff" in out["ask_full"]["ok"] and "Zaporizhzhia" in out["ask_full_new_assistant"]["ok"]
    assert "1 failed" in out["upload_full"] and ("is full" in out["upload_full"] or "No space" in out["upload_full"])
    cli = out["cli_ingest_full"]
    assert cli["code"] in (1, 2) and one_line(cli["stderr"]).startswith("error: ") and "full" in cli["stderr"], cli
    assert "chunks added" in out["ingest_freed"]["ok"] and "51 centimetres" in out["ask_freed"]["ok"]
    # Read-only: the running process still reads; writes fail clearly.
    assert "Witkoff" in out["ask_ro"]["ok"] and "Zaporizhzhia" in out["ask_ro_after"]["ok"]
    ro = out["ingest_ro"]
    assert ro.get("error") == "StoreNotWritable" and "is read-only" in one_line(ro["message"]), ro
    assert "1 failed" in out["upload_ro"] and "read-only" in out["upload_ro"].lower()
    # A new process cannot open a read-only store at all (Chroma writes when it opens): one clear line.
    cli = out["cli_ask_ro"]
    assert cli["code"] == 1 and one_line(cli["stderr"]).startswith("error: store at ") and "read-only" in cli["stderr"]
    assert out["open_other_ro"].get("error") == "StoreNotWritable", out["open_other_ro"]
    assert out["held_on_unmount"] == [], "files of the read-only store stayed open after the failed opens"
    assert out["open_other_rw"] == {"ok": "0"}, "a failed open was remembered: the store needed a restart"
