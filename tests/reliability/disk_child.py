"""The disk-full and read-only test's child, run inside `unshare -rm` (its own user and mount namespace):
mounts a 16 MB tmpfs, fills it, turns the store read-only, and prints what each step gave as one RESULT line.

Usage: disk_child.py MOUNT BIN_DIR SAMPLE GAUGE_DOC EXTRA_DOC"""

import gc
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from assistant import ui
from assistant.api import Assistant
from assistant.errors import AssistantError
from assistant.settings import Settings
from ingest import ingest_paths
from ingest.store import open_store

mount, bin_dir, sample = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)

out = {}
settings = Settings(data_dir=mount / "data", collection="disk-docs")
doc = Path(sys.argv[4])
doc.write_text("\n".join(f"Line {i}: the Ose river gauge read {i * 3} centimetres." for i in range(800)))
env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_COLLECTION": settings.collection}

def mount_id(path):
    """The id of the newest mount at `path` (/proc/self/mountinfo)."""
    return [line.split()[0] for line in open("/proc/self/mountinfo") if line.split()[4] == path][-1]


def files_on(mount):
    """Files this process has open on the mount with that id (/proc/self/fdinfo names each descriptor's mount)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            info = open(f"/proc/self/fdinfo/{fd}").read()
            if re.search(rf"^mnt_id:\s*{mount}$", info, re.M):
                held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # closed meanwhile
            pass
    return held


def wait_released(mount, seconds):
    """[] once no file is open on the mount; what is still open there if that takes over `seconds`."""
    deadline = time.monotonic() + seconds
    while (held := files_on(mount)) and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.1)
    return held


def attempt(name, fn):
    try:
        out[name] = {"ok": str(fn())[:200]}
    except Exception as exc:
        out[name] = {"error": type(exc).__name__, "message": str(exc),
                     "assistant_error": isinstance(exc, AssistantError)}

def cli(name, *args):
    done = subprocess.run([str(bin_dir / "assistant"), *args], capture_output=True, text=True, env=env, timeout=300)
    out[name] = {"code": done.returncode, "stderr": done.stderr.strip(), "stdout": done.stdout.strip()[:300]}

ingest_paths([sample], settings)
bot = Assistant(settings)
attempt("ask_before", lambda: bot.ask("Who did Trump send to Moscow?").text)
with open(mount / "filler", "wb") as f:  # fill the disk
    try:
        while True:
            f.write(b"\0" * 65536)
    except OSError as exc:
        out["filled"] = exc.strerror
attempt("ingest_full", lambda: ingest_paths([doc], settings).summary())
attempt("ask_full", lambda: bot.ask("Who did Trump send to Moscow?").text)
attempt("ask_full_new_assistant", lambda: Assistant(settings).ask("What is the Zaporizhzhia plant?").text)
out["upload_full"] = ui.ingest_uploads(settings, [str(doc)], None)[0]
cli("cli_ingest_full", "ingest", str(doc))
os.unlink(mount / "filler")
attempt("ingest_freed", lambda: ingest_paths([doc], settings).summary())
attempt("ask_freed", lambda: bot.ask("What did the Ose river gauge read on line 17?").text)

# Another store, made by another process, that this one first opens while it is read-only.
identity = {"embedding_model": "test", "embedding_backend": "int8", "embedding_dim": 8}
other = Settings(data_dir=mount / "data" / "other", collection="other-docs")
subprocess.run([sys.executable, "-c", "import sys, json; from ingest.store import open_store; "
                "from assistant.settings import Settings; "
                "open_store(Settings(data_dir=sys.argv[1], collection='other-docs'), json.loads(sys.argv[2])).count()",
                str(other.data_dir), json.dumps(identity)], check=True)
data = str(settings.data_dir)  # a read-only bind mount over the store (a remount of the tmpfs: "busy")
subprocess.run(["mount", "--bind", data, data], check=True)
subprocess.run(["mount", "-o", "remount,ro,bind", data], check=True)
extra = Path(sys.argv[5])
extra.write_text("The Glimmerwick Bridge was painted violet in 1921.")
attempt("ask_ro", lambda: bot.ask("Who did Trump send to Moscow?").text)
attempt("ingest_ro", lambda: ingest_paths([extra], settings).summary())
attempt("ask_ro_after", lambda: Assistant(settings).ask("What is the Zaporizhzhia plant?").text)
out["upload_ro"] = ui.ingest_uploads(settings, [str(extra)], None)[0]
cli("cli_ask_ro", "ask", "Who did Trump send to Moscow?")
attempt("open_other_ro", lambda: open_store(other, identity).count())
# Writable again: the same process can open it now. The failed opens above may still hold files of the read-only
# mount: Chroma's half-started system is let go (store._forget_system) but closes its database when collected, which
# happens when it happens. So wait, bounded, until no file of this process is open on that mount, then unmount it.
read_only = mount_id(data)
out["held_on_unmount"] = wait_released(read_only, seconds=120)
# Detached lazily: with no descriptor left (checked above), the kernel still called the mount busy for over a minute
# in one CI run (a mapping, or a thread's hold, that a plain umount waits on); detached, the path is the writable
# store at once, which is what this step is about.
subprocess.run(["umount", "-l", data], check=True)
attempt("open_other_rw", lambda: open_store(other, identity).count())
print("RESULT " + json.dumps(out))
