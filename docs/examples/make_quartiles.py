#!/usr/bin/env python3
"""Derive service_q25.csv / service_q75.csv for the TukeysFilter example in docs/plugins.md.

NAB has no fleet of instances with service-wide quantiles, so they are derived: the noise-free
daily curve of art_daily_no_noise, plus the quartiles of the noise of art_daily_small_noise (the
same curve with noise) around it. Timestamps are written as Unix seconds to keep the files small.
Run from the workspace root: python3 docs/examples/make_quartiles.py
"""
import csv, datetime, os

nab = os.path.join(os.environ.get("NAB", "/work/shared/nab"), "data")
read = lambda f: [(r["timestamp"], float(r["value"])) for r in csv.DictReader(open(os.path.join(nab, f)))]
clean = read("artificialNoAnomaly/art_daily_no_noise.csv")
noisy = read("artificialNoAnomaly/art_daily_small_noise.csv")
noise = sorted(b - a for (_, a), (_, b) in zip(clean, noisy))

def quantile(v, p):  # linear interpolation between order statistics
    x = p * (len(v) - 1); i = int(x)
    return v[i] + (x - i) * (v[min(i + 1, len(v) - 1)] - v[i])

lo, hi = quantile(noise, 0.25), quantile(noise, 0.75)
print(f"noise quartiles {lo:.2f} {hi:.2f}")
utc = datetime.timezone.utc
unix = lambda s: int(datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=utc).timestamp())
here = os.path.dirname(os.path.abspath(__file__))
for offset, name in [(lo, "service_q25.csv"), (hi, "service_q75.csv")]:
    with open(os.path.join(here, name), "w") as out:
        out.write("timestamp,value\n")
        for ts, v in clean:
            out.write(f"{unix(ts)},{v + offset:.2f}\n")
