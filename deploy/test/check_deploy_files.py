#!/usr/bin/env python3
"""check_deploy_files.py — keeps the deployment files that cannot run here (Dockerfile,
compose, systemd, Kubernetes, nginx) and docs/operations.md consistent with the binaries:

- every --flag given to kindred-server, kindredctl or cluster.sh exists in that program's --help;
- every KINDRED_* variable is one the server reads (its --help) or cluster.sh documents;
- every config key (the ConfigMap's JSON, `limits.x` / `timing.x` mentions) is a key of the
  server (--help) and of config/kindred.sample.json;
- the server's port agrees across Dockerfile, compose, nginx, Kubernetes and systemd, and every
  health path used is a route the server has (readiness on /readyz, liveness on /healthz);
- every kindredctl command named in docs/operations.md or a deployment file exists, and every
  kindred_* metric named in docs/operations.md, the Prometheus files and the Grafana dashboard
  is registered in server/src/metrics.cpp (tests/integration/ops_test.cpp checks the alert
  rules and the dashboard against a live scrape as well);
- the alert rules and the dashboard are well-formed, Prometheus scrapes the job the
  instance-down alert names and loads the rules, and every runbook link of an alert is a
  heading of docs/operations.md;
- the files the Dockerfile and compose copy or mount exist; the Dockerfile's runtime stage
  installs the package of every shared library the binaries link (where ldd and dpkg exist) and
  its build stage every -dev package of scripts/install-deps.sh;
- nginx.conf passes `nginx -t` and the systemd units `systemd-analyze verify` (where they exist).

Usage: check_deploy_files.py --server BIN --ctl BIN [--source-dir DIR]
       check_deploy_files.py ... --only FILE --expect TEXT   (exit 0 only if FILE fails with TEXT)
Exit 0 when everything agrees, 1 otherwise (each problem on its own line).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml  # python3-yaml
except ImportError:  # pragma: no cover - reported as a failure below
    yaml = None

PROGRAMS = ("kindred-server", "kindredctl", "cluster.sh")
# Text before a program name that puts it in command position: start of line, a shell
# separator, a JSON/YAML list opening, a unit's Exec*=, markdown code, or a wrapper.
COMMAND_POSITION = re.compile(
    r'(?:^|[;&|(`\[=]|\$\(|\bexec\s+[\w.-]+|\bexec|\bsudo|\s--|#|,)\s*["\']?\s*[\w./${}-]*/?$')
SEGMENT_END = re.compile(r'(?:;|&&|\|\||\||`|\)|\s#|\s>|\s<)')
FLAG = re.compile(r'^--([a-z][a-z0-9-]*)')


class Checker:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"FAIL {what}")
        return ok


def run(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30)


def strip_json_comments(text):
    """The server's config files allow // and /* */ comments and trailing commas."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def flat_keys(obj, prefix=""):
    keys = set()
    for k, v in obj.items():
        if isinstance(v, dict) and k in ("limits", "timing"):
            keys |= flat_keys(v, f"{k}.")
        else:
            keys.add(prefix + k)
    return keys


def logical_lines(text):
    """Lines with backslash continuations joined (shell, Dockerfile, systemd)."""
    return re.sub(r"\\\n", " ", text).split("\n")


def program_segments(line):
    """(program, text after it up to the end of that command) for each program in command
    position on the line."""
    for m in re.finditer(r"(?<![\w@-])(kindred-server|kindredctl|cluster\.sh)(?![\w@.:-])", line):
        if not COMMAND_POSITION.search(line[: m.start()]):
            continue
        rest = line[m.end():]
        end = SEGMENT_END.search(rest)
        yield m.group(1), rest[: end.start()] if end else rest


def flags_in(segment):
    for token in re.split(r"[\s\"',\[\]]+", segment):
        m = FLAG.match(token)
        if m:
            yield "--" + m.group(1)


class Facts:
    """What the binaries and the repository say exists."""

    def __init__(self, args):
        src = args.source_dir
        server_help = run([args.server, "--help"]).stdout
        ctl_help = run([args.ctl, "--help"]).stdout
        cluster_help = run([os.path.join(src, "deploy/local/cluster.sh"), "--help"]).stdout
        self.flags = {
            "kindred-server": set(re.findall(r"--[a-z][a-z0-9-]*", server_help)),
            "kindredctl": set(re.findall(r"--[a-z][a-z0-9-]*", ctl_help)),
            "cluster.sh": set(re.findall(r"--[a-z][a-z0-9-]*", cluster_help)),
        }
        self.server_env = set(re.findall(r"\b(KINDRED_[A-Z0-9_]+)", server_help))
        self.cluster_env = set(re.findall(r"\b(KINDRED_CLUSTER_[A-Z0-9_]+)", cluster_help))
        self.file_keys = set(re.findall(r"\[file\s+([a-z_.]+),", server_help))
        self.catalog_keys = {"languages", "tags", "crisis_resources"}
        with open(os.path.join(src, "config/kindred.sample.json"), encoding="utf-8") as f:
            self.sample_keys = flat_keys(json.loads(strip_json_comments(f.read())))
        # The Commands section of kindredctl --help: "  user add NAME ...", "  status   (...)".
        commands = ctl_help.split("Commands:", 1)[-1].split("Run `kindredctl", 1)[0]
        self.ctl_commands = set(re.findall(r"^  ((?:user|audit) [a-z-]+|[a-z][a-z-]*)(?=\s|$)", commands, re.M))
        with open(os.path.join(src, "server/src/http_routes.cpp"), encoding="utf-8") as f:
            self.routes = set(re.findall(r'path == "(/[a-z0-9/]*)"', f.read()))
        with open(os.path.join(src, "server/src/metrics.cpp"), encoding="utf-8") as f:
            families = set(re.findall(r'"(kindred_[a-z_]+)', f.read()))
        self.metrics = families | {m + s for m in families for s in ("_bucket", "_sum", "_count")}
        self.ok = bool(self.flags["kindred-server"] and self.flags["kindredctl"] and self.server_env
                       and self.file_keys and self.flags["cluster.sh"] and self.ctl_commands)


def check_text_file(c, facts, path, rel):
    """Flags, variables and config keys named in one file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for line in logical_lines(text):
        for program, segment in program_segments(line):
            for flag in flags_in(segment):
                c.check(flag in facts.flags[program], f"{rel}: unknown {program} flag {flag}")
    # CMake's own KINDRED_* variables are build options, not the server's environment.
    variables = "" if os.path.basename(path) == "CMakeLists.txt" else text
    for m in re.finditer(r"(?<!-D)\b(KINDRED_[A-Z0-9_]+)\b", variables):
        var = m.group(1)
        known = var in facts.server_env or var in facts.cluster_env
        c.check(known, f"{rel}: {var} is not a variable kindred-server reads (nor cluster.sh's)")
    for m in re.finditer(r"(?<![\w.])((?:limits|timing)\.[a-z_]+)(\*?)", text):
        key, wildcard = m.groups()
        if wildcard:  # `limits.report_*`: some key starts so
            known = any(k.startswith(key) for k in facts.file_keys & facts.sample_keys)
        else:
            known = key in facts.file_keys and key in facts.sample_keys
        c.check(known, f"{rel}: config key {key}{wildcard} is not in kindred-server --help and "
                       "config/kindred.sample.json")
    return text


def served_path(url):
    m = re.match(r"https?://[^/\s'\"]+(/[\w/.-]*)", url)
    return m.group(1) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--source-dir", default=os.path.join(os.path.dirname(__file__), "../.."))
    ap.add_argument("--only", help="check only this file's flags, variables and keys")
    ap.add_argument("--expect", help="with --only: succeed only if a failure contains this text")
    args = ap.parse_args()
    args.source_dir = os.path.abspath(args.source_dir)
    src = args.source_dir
    c = Checker()
    facts = Facts(args)
    if not c.check(facts.ok, "could not read kindred-server, kindredctl or cluster.sh --help"):
        return 1

    if args.only:
        check_text_file(c, facts, args.only, os.path.relpath(args.only, src))
        if args.expect:
            hit = any(args.expect in f for f in c.failures)
            print(("ok   " if hit else "FAIL ") + f"the check reports: {args.expect}")
            return 0 if hit else 1
        return 1 if c.failures else 0

    if not c.check(yaml is not None, "python3-yaml is missing (scripts/install-deps.sh installs it)"):
        return 1

    # Every deployment file and the operations guide: flags, variables, config keys.
    files = []
    for base, dirs, names in os.walk(os.path.join(src, "deploy")):
        dirs[:] = [d for d in dirs if d not in ("test", "tls")]
        files += [os.path.join(base, n) for n in names]
    files.append(os.path.join(src, "docs/operations.md"))
    texts = {}
    for path in sorted(files):
        rel = os.path.relpath(path, src)
        texts[rel] = check_text_file(c, facts, path, rel)

    # The ConfigMap's config file: valid JSON, every key known.
    cm = yaml.safe_load(texts["deploy/k8s/configmap.yaml"])
    cfg = json.loads(strip_json_comments(cm["data"]["kindred.json"]))
    for key in sorted(flat_keys(cfg)):
        c.check((key in facts.file_keys or key in facts.catalog_keys) and key in facts.sample_keys,
                f"deploy/k8s/configmap.yaml: config key {key} is unknown")

    # Ports: one server port everywhere; health paths are routes the server has.
    ports = {}  # file → set of ports named for the server
    health = []  # (file, what, path)

    def port(rel, value):
        if str(value).isdigit():
            ports.setdefault(rel, set()).add(int(value))

    docker = texts["deploy/Dockerfile"]
    for m in re.finditer(r"^EXPOSE\s+(\d+)", docker, re.M):
        port("deploy/Dockerfile", m.group(1))
    for rel, text in texts.items():
        if rel == "docs/operations.md" or rel.startswith("deploy/local/"):
            continue  # the local cluster uses free ports on purpose
        for m in re.finditer(r"KINDRED_LISTEN[=:]\s*\"?[^\s\":]*:(\w+)", text):
            port(rel, m.group(1))
        for m in re.finditer(r"(?:127\.0\.0\.1|localhost):([\w%]+)(/(?:healthz|readyz|metrics)\b)", text):
            port(rel, m.group(1))
        for m in re.finditer(r"--listen\s+\S*:(\w+)", text):
            port(rel, m.group(1))
    for line in logical_lines(docker):
        if line.startswith("HEALTHCHECK"):
            for url in re.findall(r"https?://\S+", line):
                health.append(("deploy/Dockerfile", "HEALTHCHECK", served_path(url)))
    for line in logical_lines(texts["deploy/systemd/kindred-server.service"]) + logical_lines(
            texts["deploy/systemd/kindred-server@.service"]):
        if line.startswith("ExecStartPost="):
            for url in re.findall(r"https?://[^\s;']+", line):
                health.append(("deploy/systemd", "ExecStartPost", served_path(url)))
    nginx_conf = texts["deploy/nginx/nginx.conf"]
    for m in re.finditer(r"server\s+kindred-\d+:(\d+)", nginx_conf):
        port("deploy/nginx/nginx.conf", m.group(1))
    c.check("include /etc/nginx/kindred-locations.conf;" in nginx_conf,
            "deploy/nginx/nginx.conf includes kindred-locations.conf")

    compose = yaml.safe_load(texts["deploy/compose.yaml"])
    for name, svc in compose["services"].items():
        if not name.startswith("kindred-"):
            continue
        env = svc.get("environment", {})
        if "KINDRED_LISTEN" in env:
            port("deploy/compose.yaml", env["KINDRED_LISTEN"].rsplit(":", 1)[1])
        for item in svc.get("healthcheck", {}).get("test", []):
            if str(item).startswith("http"):
                port("deploy/compose.yaml", re.search(r":(\d+)/", item).group(1))
                health.append(("deploy/compose.yaml", f"{name} healthcheck", served_path(item)))
        c.check(env.get("KINDRED_INSTANCE_ID") == name, f"deploy/compose.yaml: {name} has its own instance id")
    for vol in [v for s in compose["services"].values() for v in s.get("volumes", [])]:
        source = vol.split(":")[0]
        if source.startswith("./") and not source.startswith("./tls"):
            c.check(os.path.exists(os.path.join(src, "deploy", source)),
                    f"deploy/compose.yaml mounts {source}, which exists")

    deployment = yaml.safe_load(texts["deploy/k8s/deployment.yaml"])
    pod = deployment["spec"]["template"]["spec"]
    port("deploy/k8s/deployment.yaml",
         deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"])
    for ctr in pod["containers"]:
        for p in ctr.get("ports", []):
            port("deploy/k8s/deployment.yaml", p["containerPort"])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in ctr:
                get = ctr[probe]["httpGet"]
                port("deploy/k8s/deployment.yaml", get["port"])
                health.append(("deploy/k8s/deployment.yaml", probe, get["path"]))
        c.check(ctr.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz",
                "deploy/k8s/deployment.yaml: readiness is /readyz")
        c.check(ctr.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz",
                "deploy/k8s/deployment.yaml: liveness is /healthz (never /readyz: a Redis outage "
                "must not restart every pod)")
    service = yaml.safe_load(texts["deploy/k8s/service.yaml"])
    for p in service["spec"]["ports"]:
        port("deploy/k8s/service.yaml", p["targetPort"])
    port("deploy/k8s/configmap.yaml", cfg["listen"].rsplit(":", 1)[1])

    # The drain fits in every stop timeout: shutdown_grace_s + 1 s (+ preStop pause).
    grace = cfg.get("timing", {}).get("shutdown_grace_s", 5)
    pre_stop = 0
    for ctr in pod["containers"]:
        cmd = ctr.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        pre_stop = max([pre_stop] + [int(x) for x in cmd if str(x).isdigit()])
    c.check(pod["terminationGracePeriodSeconds"] > grace + 1 + pre_stop,
            "deploy/k8s/deployment.yaml: terminationGracePeriodSeconds is above the drain time")
    for rel in ("deploy/systemd/kindred-server.service", "deploy/systemd/kindred-server@.service"):
        m = re.search(r"^TimeoutStopSec=(\d+)", texts[rel], re.M)
        c.check(m and int(m.group(1)) > grace + 1, f"{rel}: TimeoutStopSec is above the drain time")
    for name, svc in compose["services"].items():
        if name.startswith("kindred-"):
            c.check(int(str(svc.get("stop_grace_period", "10s")).rstrip("s")) > grace + 1,
                    f"deploy/compose.yaml: {name} stop_grace_period is above the drain time")

    # kindredctl commands (the guide and the deployment files) and metric names that exist today.
    ops = texts["docs/operations.md"]
    ctl_verbs = r"(?:user|audit)\s+[a-z-]+|demo-seed|demo-insights|status|reload|report"
    commands_named = 0
    for rel, text in sorted(texts.items()):
        for m in re.finditer(rf"\bkindredctl(?:\s+--[a-z-]+(?:\s+[^\s-]\S*)?)*\s+({ctl_verbs})\b", text):
            command = re.sub(r"\s+", " ", m.group(1))
            commands_named += 1
            c.check(command in facts.ctl_commands, f"{rel}: kindredctl {command} is not a command")
    c.check(commands_named >= 5, f"kindredctl commands found in the files ({commands_named})")
    metric_files = ["docs/operations.md"] + [rel for rel in texts
                                              if rel.startswith(("deploy/prometheus/", "deploy/grafana/"))]
    for rel in sorted(metric_files):
        named = set(re.findall(r"\b(kindred_[a-z_]+)\b", texts[rel]))
        c.check(len(named) >= 3 or rel.endswith("prometheus.yml"), f"{rel} names metrics ({len(named)})")
        for m in sorted(named):
            c.check(m in facts.metrics, f"{rel}: metric {m} does not exist (server/src/metrics.cpp)")

    # Alert rules, the Prometheus example and the dashboard: well-formed and wired together.
    alerts = yaml.safe_load(texts["deploy/prometheus/alerts.yaml"])
    rules = [r for g in alerts.get("groups", []) for r in g.get("rules", [])]
    c.check(len(rules) >= 5, f"deploy/prometheus/alerts.yaml has alert rules ({len(rules)})")
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", ops, re.M):
        anchors.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", heading.lower())))
    for r in rules:
        name = r.get("alert", "?")
        c.check(bool(r.get("alert")) and bool(str(r.get("expr", "")).strip())
                and r.get("labels", {}).get("severity") in ("page", "ticket"),
                f"deploy/prometheus/alerts.yaml: {name} has alert, expr and a severity (page|ticket)")
        runbook = r.get("annotations", {}).get("runbook")
        if runbook:
            doc, _, anchor = runbook.partition("#")
            c.check(doc == "docs/operations.md" and anchor in anchors,
                    f"deploy/prometheus/alerts.yaml: {name}'s runbook {runbook} is a heading of docs/operations.md")
    jobs = set(re.findall(r'\bjob="([^"]+)"', texts["deploy/prometheus/alerts.yaml"]))
    prom = yaml.safe_load(texts["deploy/prometheus/prometheus.yml"])
    scrape_jobs = {j.get("job_name") for j in prom.get("scrape_configs", [])}
    c.check("alerts.yaml" in prom.get("rule_files", []), "deploy/prometheus/prometheus.yml loads alerts.yaml")
    for job in sorted(jobs):
        c.check(job in scrape_jobs, f"deploy/prometheus/prometheus.yml scrapes the job {job} that alerts.yaml names")
        c.check(re.search(rf"job_name:\s*{re.escape(job)}\b", ops) is not None,
                f"docs/operations.md's Prometheus config names the job {job} that alerts.yaml names")
    for j in prom.get("scrape_configs", []):
        for sc in j.get("static_configs", []):
            for target in sc.get("targets", []):
                host, _, p = target.rpartition(":")
                port("deploy/prometheus/prometheus.yml", p)
                c.check(host in compose["services"],
                        f"deploy/prometheus/prometheus.yml: target {target} is a compose service")
    try:
        dashboard = json.loads(texts["deploy/grafana/kindred.json"])
    except ValueError as e:
        dashboard = {}
        c.check(False, f"deploy/grafana/kindred.json is JSON: {e}")
    exprs = [t.get("expr", "") for p in dashboard.get("panels", []) for t in p.get("targets", [])]
    c.check(len(exprs) >= 10 and all(exprs), f"deploy/grafana/kindred.json has panels with queries ({len(exprs)})")

    all_ports = set().union(*ports.values()) if ports else set()
    c.check(len(all_ports) == 1,
            "one server port everywhere: " + ", ".join(f"{k} {sorted(v)}" for k, v in sorted(ports.items())))
    for rel in ("deploy/Dockerfile", "deploy/compose.yaml", "deploy/nginx/nginx.conf",
                "deploy/k8s/deployment.yaml", "deploy/k8s/service.yaml", "deploy/k8s/configmap.yaml",
                "deploy/systemd/kindred-server.service"):
        c.check(rel in ports, f"{rel} names the server's port")
    c.check(len(health) >= 6, f"health checks found in the files ({len(health)})")
    for rel, what, path in health:
        c.check(path in facts.routes and path in ("/healthz", "/readyz"),
                f"{rel}: {what} uses {path}, a health route of the server")

    # The Dockerfile: copied files exist; build deps match install-deps.sh; runtime libraries.
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", docker, re.M):
        for source in m.group(1).split()[:-1]:
            if source != ".":
                c.check(os.path.exists(os.path.join(src, source)), f"deploy/Dockerfile copies {source}, which exists")
    stages = re.split(r"^FROM\s+", docker, flags=re.M)
    build_stage = next(s for s in stages if " AS build" in s.split("\n")[0])
    runtime_stage = stages[-1]
    with open(os.path.join(src, "scripts/install-deps.sh"), encoding="utf-8") as f:
        deps = re.search(r"packages=\((.*?)\n\)", f.read(), re.S).group(1)
    deps = re.sub(r"#.*", "", deps)
    for pkg in re.findall(r"\b(lib[\w.+-]*-dev)\b", deps):
        if pkg.startswith(("libgtest", "libgmock", "libclang")):
            continue
        c.check(re.search(rf"(?<![\w.-]){re.escape(pkg)}(?![\w.-])", build_stage) is not None,
                f"deploy/Dockerfile build stage installs {pkg} (scripts/install-deps.sh has it)")
    if shutil.which("ldd") and shutil.which("dpkg"):
        base = {"libc6", "libgcc-s1", "libstdc++6"}  # in debian:12-slim already
        libs = set()
        for binary in (args.server, args.ctl):
            libs |= set(re.findall(r"=>\s+(\S+)", run(["ldd", binary]).stdout))
        # One dpkg query for all (Debian 12 merges /lib into /usr/lib: try both spellings).
        candidates = {lib: [lib, "/usr" + lib, os.path.realpath(lib)] for lib in libs}
        owners = {}
        query = run(["dpkg", "-S", *sorted({x for v in candidates.values() for x in v})])
        for line in query.stdout.splitlines():
            pkg, _, path = line.partition(": ")
            owners[path.strip()] = pkg.split(":")[0]
        seen = set()
        for lib, paths in sorted(candidates.items()):
            pkg = next((owners[x] for x in paths if x in owners), None)
            if pkg and pkg not in base and pkg not in seen:
                seen.add(pkg)
                c.check(re.search(rf"(?<![\w.-]){re.escape(pkg)}(?![\w-])", runtime_stage) is not None,
                        f"deploy/Dockerfile runtime stage installs {pkg} ({os.path.basename(lib)})")
        c.check(len(seen) >= 5, f"the binaries' library packages were found ({len(seen)})")
    else:
        print("skip runtime library check (no ldd or dpkg)")

    # nginx's own check of nginx.conf (as compose mounts it), with the container's names and
    # paths swapped for ones that exist here. `nginx -t` parses; it binds no port.
    if shutil.which("nginx") and shutil.which("openssl"):
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert])
            conf = (nginx_conf.replace("/etc/nginx/tls/cert.pem", cert)
                    .replace("/etc/nginx/tls/key.pem", key)
                    .replace("/etc/nginx/kindred-locations.conf", os.path.join(src, "deploy/nginx/kindred-locations.conf"))
                    .replace("/dev/stderr", os.path.join(tmp, "error.log")))
            conf = re.sub(r"server\s+kindred-\d+:", "server 127.0.0.1:", conf)
            conf = re.sub(r"^user\s+nginx;", "", conf, flags=re.M)
            conf = conf.replace("http {", f"http {{\n    client_body_temp_path {tmp}/body;\n"
                                f"    proxy_temp_path {tmp}/proxy;\n    fastcgi_temp_path {tmp}/fastcgi;\n"
                                f"    uwsgi_temp_path {tmp}/uwsgi;\n    scgi_temp_path {tmp}/scgi;", 1)
            conf = f"pid {tmp}/nginx.pid;\n" + conf
            with open(os.path.join(tmp, "nginx.conf"), "w", encoding="utf-8") as f:
                f.write(conf)
            r = run(["nginx", "-t", "-q", "-p", tmp + "/", "-c", os.path.join(tmp, "nginx.conf"),
                     "-e", os.path.join(tmp, "error.log")])
            c.check(r.returncode == 0, f"nginx -t deploy/nginx/nginx.conf: {r.stderr.strip() or 'ok'}")
    else:
        print("skip nginx -t (nginx or openssl not installed)")

    # systemd's own check of the units, with the binary swapped for one that exists here.
    if shutil.which("systemd-analyze"):
        with tempfile.TemporaryDirectory() as tmp:
            names = []
            for unit, name in (("kindred-server.service", "kindred-server.service"),
                               ("kindred-server@.service", "kindred-server@8081.service")):
                text = texts[f"deploy/systemd/{unit}"].replace("/usr/local/bin/kindred-server", "/bin/true")
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    f.write(text)
                names.append(os.path.join(tmp, name))
            r = run(["systemd-analyze", "verify", *names])
            c.check(r.returncode == 0 and not r.stderr.strip(),
                    f"systemd-analyze verify deploy/systemd/*.service: {r.stderr.strip() or 'clean'}")
    else:
        print("skip systemd-analyze verify (not installed)")

    print(f"deploy files: {c.passed} passed, {len(c.failures)} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
