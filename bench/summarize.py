#!/usr/bin/env python3
"""summarize.py — summary.md of a bench/compare.sh folder: every figure of issue #7 next to
its goal, the relay ladder of every system (Kindred, the echo ceiling, the Node ws+ioredis
peer, Socket.IO), and the ratios against Kindred measured in the same run.
Usage: bench/summarize.py RESULTS_DIR > summary.md   (python3 standard library only)
"""
import json
import os
import re
import sys

SYSTEMS = [
    ("kindred", "Kindred"),
    ("echo", "echo ceiling (Beast, no Redis)"),
    ("ws", "Node ws + ioredis"),
    ("socketio", "Socket.IO + redis-adapter"),
]


def load(folder, name):
    path = os.path.join(folder, name + ".json")
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc


def results(doc):
    if doc is None:
        return None
    return doc.get("results", doc)


def passed(doc):
    if doc is None:
        return None
    checks = doc.get("checks")
    if isinstance(checks, dict):
        return bool(checks.get("passed"))
    return None


def ladder(folder, prefix):
    """{load (int, or 'max'): result document} for prefix-<load>.json."""
    out = {}
    for name in os.listdir(folder):
        m = re.fullmatch(re.escape(prefix) + r"-(\d+|max)\.json", name)
        if m:
            key = m.group(1)
            out[int(key) if key.isdigit() else "max"] = load(folder, name[:-5])
    return out


def num(v, digits=1):
    if v is None:
        return "—"
    if isinstance(v, (int, float)):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}f}"
    return str(v)


def lat(r, key):
    if not r:
        return None
    l = r.get("latency") or {}
    return l.get(key)


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, digits)


def verdict(ok):
    return {True: "**met**", False: "**not met**", None: "not measured"}[ok]


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    folder = sys.argv[1]
    run = load(folder, "run") or {}
    ceiling = results(load(folder, "redis-ceiling"))
    ladders = {p: ladder(folder, p) for p, _ in SYSTEMS}
    k = ladders["kindred"]
    half = None
    try:
        with open(os.path.join(folder, "half-ceiling-load")) as f:
            half = int(f.read().strip())
    except (OSError, ValueError):
        pass
    idle, match, storm = (load(folder, n) for n in ("idle", "match", "storm"))
    ri, rm, rs = results(idle), results(match), results(storm)
    failures = []
    try:
        with open(os.path.join(folder, "failures.txt")) as f:
            failures = [l.strip() for l in f if l.strip()]
    except OSError:
        pass

    p = print
    p(f"# Side-by-side run {os.path.basename(os.path.abspath(folder))}")
    p()
    if run.get("quick"):
        p("**Quick run** (seconds per step, small numbers): for trying the script, not figures.")
        p()
    p(f"- machine: {run.get('cores', '?')} cores, {run.get('cpu_model', '?')}, "
      f"Linux {run.get('kernel', '?')}")
    p(f"- command: `{run.get('command', 'bench/compare.sh')}` (build: {run.get('build_dir', '?')})")
    p(f"- pinning: servers on cpus {run.get('server_cpus')} ({run.get('server_threads')} thread), "
      f"generators on cpus {run.get('bench_cpus')}; Redis unpinned unless ≥ 3 cores")
    p(f"- relay runs: {run.get('pairs')} pairs, {run.get('size')}-byte plaintext, "
      f"{run.get('warmup')} s warm-up + {run.get('duration')} s measured; open files "
      f"{run.get('nofile_note', run.get('nofile'))}")
    p()

    # ---- goals ---------------------------------------------------------------------------
    kmax = results(k.get("max"))
    khalf = results(k.get(half)) if half is not None else None
    ceil_p = ceiling.get("messages_per_second_pipelined") if ceiling else None
    rows = []

    if ri:
        per = ri.get("server_rss_per_connection_bytes")
        rows.append(("server memory per idle WebSocket", "≤ 8 KB (100k connections)",
                     f"{num(per, 0)} B over {num(ri.get('connections'), 0)} connections",
                     verdict(per is not None and per <= 8192 and ri.get("connections", 0) >= 100000)
                     if per is not None else verdict(None)))
    else:
        rows.append(("server memory per idle WebSocket", "≤ 8 KB (100k connections)", "—",
                     verdict(None)))

    cpu_max = kmax.get("server_cpu_us_per_message") if kmax else None
    cpu_half = khalf.get("server_cpu_us_per_message") if khalf else None
    rows.append(("server CPU per relayed message", "≤ 10 µs",
                 f"{num(cpu_max, 2)} µs closed loop; {num(cpu_half, 2)} µs at "
                 f"{num(half, 0)} msgs/s",
                 verdict(cpu_max <= 10 if cpu_max is not None else None)))

    kput = kmax.get("delivered_per_second") if kmax else None
    share = ratio(kput, ceil_p, 3)
    rows.append(("relay throughput vs redis-benchmark ceiling", "≥ 70 %",
                 f"{num(kput, 0)} msgs/s of {num(ceil_p, 0)} = "
                 f"{num(share * 100 if share is not None else None, 0)} %",
                 verdict(share >= 0.7 if share is not None else None)))
    p99_half = lat(khalf, "p99_ms")
    rows.append(("p99 at half the ceiling", "≤ 10 ms",
                 f"{num(p99_half, 2)} ms at {num(half, 0)} msgs/s",
                 verdict(p99_half <= 10 if p99_half is not None else None)))

    for prefix, label in (("ws", "Node ws + ioredis"), ("socketio", "Socket.IO")):
        other = ladders[prefix]
        omax = results(other.get("max"))
        cpu_ratio = ratio(omax.get("server_cpu_us_per_message") if omax else None, cpu_max, 1)
        rows.append((f"CPU per message, {label} ÷ Kindred", "≥ 10×",
                     f"{num(cpu_ratio, 1)}× (closed loop)",
                     verdict(cpu_ratio >= 10 if cpu_ratio is not None else None)))
        worst = None
        for load_ in sorted(l for l in k if l != "max"):
            kr, orr = results(k[load_]), results(other.get(load_))
            r_ = ratio(lat(kr, "p99_ms"), lat(orr, "p99_ms"), 3)
            if r_ is not None and (worst is None or r_ > worst[1]):
                worst = (load_, r_)
        rows.append((f"p99, Kindred ÷ {label}, equal offered load", "≤ 1/5 (0.2)",
                     f"worst {num(worst[1], 2)} at {num(worst[0], 0)} msgs/s" if worst else "—",
                     verdict(worst[1] <= 0.2 if worst else None)))

    if rm:
        ml = rm.get("match_latency") or {}
        ok = (ml.get("p99_ms") is not None and ml["p99_ms"] <= 5 and
              rm.get("double_assignments") == 0 and rm.get("peers", 0) >= 1000)
        rows.append(("match latency, 1,000 peers, 500/s", "p99 ≤ 5 ms, 0 double assignments",
                     f"p99 {num(ml.get('p99_ms'), 2)} ms, {rm.get('double_assignments')} double, "
                     f"{rm.get('peers')} peers at {rm.get('arrival_rate_per_second')}/s",
                     verdict(ok)))
    else:
        rows.append(("match latency, 1,000 peers, 500/s", "p99 ≤ 5 ms, 0 double", "—",
                     verdict(None)))
    if rs:
        d = rs.get("delivery") or {}
        ok = (rs.get("resumed") == rs.get("clients") and d.get("lost") == 0 and
              d.get("duplicated") == 0 and rs.get("all_resumed_seconds", 99) <= 5 and
              rs.get("clients", 0) >= 20000)
        rows.append(("storm: clients dropped at once", "20k: all resumed, no loss, ≤ 5 s",
                     f"{num(rs.get('clients'), 0)} clients: {num(rs.get('resumed'), 0)} resumed "
                     f"in {num(rs.get('all_resumed_seconds'), 2)} s, lost {d.get('lost')}, "
                     f"duplicated {d.get('duplicated')}", verdict(ok)))
    else:
        rows.append(("storm: 20k clients dropped at once", "all resumed, no loss, ≤ 5 s", "—",
                     verdict(None)))

    p("## Goals of issue #7")
    p()
    p("| figure | goal | measured | |")
    p("|---|---|---|---|")
    for r in rows:
        p("| " + " | ".join(r) + " |")
    p()
    p("A goal stated at full scale (100k idle, 1,000 peers, 20k storm) counts as met only "
      "when measured at that scale.")
    p()

    # ---- ceiling -------------------------------------------------------------------------
    if ceiling:
        p("## Redis ceiling (redis-benchmark, same Redis, same run)")
        p()
        p("| command | unpipelined ops/s | pipelined ops/s (P=%s) |" % ceiling.get("pipeline"))
        p("|---|---|---|")
        p(f"| EVALSHA conv_append.lua ({ceiling.get('ciphertext_bytes')}-byte ciphertext) | "
          f"{num(ceiling.get('append_per_second_unpipelined'), 0)} | "
          f"{num(ceiling.get('append_per_second_pipelined'), 0)} |")
        p(f"| EVALSHA of the INCR prologue alone | "
          f"{num(ceiling.get('incr_only_per_second_unpipelined'), 0)} | "
          f"{num(ceiling.get('incr_only_per_second_pipelined'), 0)} |")
        p(f"| GET peer session pointer | {num(ceiling.get('get_per_second_unpipelined'), 0)} | "
          f"{num(ceiling.get('get_per_second_pipelined'), 0)} |")
        p(f"| **per message** (append + ½ GET) | "
          f"{num(ceiling.get('messages_per_second_unpipelined'), 0)} | "
          f"**{num(ceiling.get('messages_per_second_pipelined'), 0)}** |")
        p()

    # ---- ladders -------------------------------------------------------------------------
    p("## Relay at each offered load")
    p()
    p("| system | offered msgs/s | delivered msgs/s | p50 ms | p99 ms | p99.9 ms | server CPU "
      "µs/msg | Redis CPU µs/msg | generator CPU % | checks |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for prefix, label in SYSTEMS:
        lad = ladders[prefix]
        for load_ in sorted(lad, key=lambda x: (x == "max", x if x != "max" else 0)):
            doc = lad[load_]
            r = results(doc) or {}
            ok = passed(doc)
            p(f"| {label} | {'closed loop' if load_ == 'max' else num(load_, 0)} | "
              f"{num(r.get('delivered_per_second'), 0)} | {num(lat(r, 'p50_ms'), 2)} | "
              f"{num(lat(r, 'p99_ms'), 2)} | {num(lat(r, 'p99_9_ms'), 2)} | "
              f"{num(r.get('server_cpu_us_per_message'), 2)} | "
              f"{num(r.get('redis_cpu_us_per_message'), 2)} | "
              f"{num(r.get('generator_cpu_percent'), 0)} | "
              f"{'passed' if ok else ('FAILED' if ok is False else '—')} |")
    p()

    # ---- ratios --------------------------------------------------------------------------
    p("## Ratios against Kindred (same run)")
    p()
    p("| offered msgs/s | echo ÷ Kindred delivered | Kindred ÷ echo CPU/msg | ws ÷ Kindred "
      "CPU/msg | Kindred ÷ ws p99 | Socket.IO ÷ Kindred CPU/msg | Kindred ÷ Socket.IO p99 |")
    p("|---|---|---|---|---|---|---|")
    for load_ in sorted(k, key=lambda x: (x == "max", x if x != "max" else 0)):
        kr = results(k[load_])
        if not kr:
            continue
        cells = []
        er = results(ladders["echo"].get(load_))
        cells.append(ratio(er.get("delivered_per_second") if er else None,
                           kr.get("delivered_per_second")))
        cells.append(ratio(kr.get("server_cpu_us_per_message"),
                           er.get("server_cpu_us_per_message") if er else None, 1))
        for prefix in ("ws", "socketio"):
            orr = results(ladders[prefix].get(load_))
            cells.append(ratio(orr.get("server_cpu_us_per_message") if orr else None,
                               kr.get("server_cpu_us_per_message"), 1))
            cells.append(ratio(lat(kr, "p99_ms"), lat(orr, "p99_ms"), 2))
        p(f"| {'closed loop' if load_ == 'max' else num(load_, 0)} | " +
          " | ".join(num(c, 2) for c in cells) + " |")
    p()
    if kput and ceil_p:
        p(f"Kindred closed-loop throughput ÷ redis-benchmark ceiling (pipelined): "
          f"{num(share * 100, 0)} %.")
        p()

    # ---- other scenarios -----------------------------------------------------------------
    if ri:
        p(f"**idle**: {num(ri.get('connections'), 0)} connections, "
          f"{num(ri.get('server_rss_per_connection_bytes'), 0)} B server RSS per connection, "
          f"{num(ri.get('redis_rss_per_connection_bytes'), 0)} B Redis RSS per connection, "
          f"{num(ri.get('handshakes_per_second'), 0)} handshakes/s, "
          f"{num(ri.get('server_cpu_us_per_handshake'), 0)} µs server CPU per handshake, "
          f"{num(ri.get('server_idle_cpu_percent'), 2)} % CPU while idle.")
        p()
    if rm:
        ml = rm.get("match_latency") or {}
        p(f"**match**: {rm.get('peers')} peers, {rm.get('seekers')} seekers at "
          f"{rm.get('arrival_rate_per_second')}/s: p50 {num(ml.get('p50_ms'), 2)} ms, p99 "
          f"{num(ml.get('p99_ms'), 2)} ms, p99.9 {num(ml.get('p99_9_ms'), 2)} ms; "
          f"{rm.get('double_assignments')} double assignments, "
          f"{rm.get('peers_over_capacity')} peers over capacity.")
        p()
    if rs:
        rl = rs.get("resume_latency") or {}
        p(f"**storm**: {num(rs.get('clients'), 0)} clients, all resumed in "
          f"{num(rs.get('all_resumed_seconds'), 2)} s (resume p99 {num(rl.get('p99_ms'), 0)} "
          f"ms), all delivered in {num(rs.get('all_delivered_seconds'), 2)} s.")
        p()
    if failures:
        p("## Failed or skipped")
        p()
        for f_ in failures:
            p(f"- {f_}")
        p()
    return 0


if __name__ == "__main__":
    sys.exit(main())
