#!/usr/bin/env python3
"""Summarise an `am-runner replay` CSV against NAB's labelled anomaly windows.

usage: summarize.py REPLAY.csv FLAG_COLUMN NAB_KEY [VERDICT_COLUMN]

FLAG_COLUMN is the field to count (`flag`, `overall.flag`, `web02`, ...); NAB_KEY is the file's key
in combined_windows.json (`artificialWithAnomaly/art_daily_jumpsup.csv`). With VERDICT_COLUMN
(`input`, `deviation`), rows where that column is empty are "no verdict" rows (stale or short
data: the plugin wrote only its flag, -1) and are not counted as flags.
Set NAB to NAB's folder (default /work/shared/nab).
"""
import csv, datetime, json, os, sys

res, col, key = sys.argv[1], sys.argv[2], sys.argv[3]
vcol = sys.argv[4] if len(sys.argv) > 4 else col
nab = os.environ.get("NAB", "/work/shared/nab")
windows = json.load(open(os.path.join(nab, "combined_windows.json")))[key]
utc = datetime.timezone.utc
iso = lambda t: datetime.datetime.fromtimestamp(int(t), utc).strftime("%Y-%m-%d %H:%M:%S")
unix = lambda s: int(datetime.datetime.strptime(s[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=utc).timestamp())
spans = [(unix(a), unix(b)) for a, b in windows]
rows = list(csv.DictReader(open(res)))
none = [r for r in rows if r.get(vcol, "") == ""]
flags = [(int(r["timestamp"]), float(r[col])) for r in rows
         if r.get(vcol, "") != "" and r.get(col, "") not in ("", "0")]
flags = [(t, v) for t, v in flags if v != 0]
inside = [t for t, _ in flags if any(a <= t <= b for a, b in spans)]
print(f"rows {len(rows)}, no verdict {len(none)}, {col}!=0 {len(flags)} "
      f"(+: {sum(v > 0 for _, v in flags)}, -: {sum(v < 0 for _, v in flags)}), inside windows {len(inside)}")
print("first flag:", iso(flags[0][0]) if flags else "-",
      "| first inside a window:", iso(inside[0]) if inside else "-")
print("windows:", ", ".join(f"{a[:19]} .. {b[:19]}" for a, b in windows) or "none")
