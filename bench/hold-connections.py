#!/usr/bin/env python3
"""Memory of held connections (DESIGN §8: 10,000 tarpitted and 10,000 black-holed
connections held with < 100 MB RSS).

Starts the release `fake-remotes` binary with two remotes, `hole` (black hole from
start-up) and `pit` (a tarpit dribbling every reply at 1 byte/s), then, from this
separate client process: opens N connections to `hole`, waits until the server has
accepted them all (its control API counts them), checks they are all still open, reads
the server's RSS from /proc, closes them; then the same with `pit`. The two phases run
one after the other because the open-files hard limit (server and client) may not allow
2 × N at once. Loopback only; every wait has a deadline; the server is stopped at the
end.

    bench/hold-connections.py            # N = 10000
    bench/hold-connections.py 2000
"""

import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "fake-remotes")
DEADLINE = 60  # seconds for any one wait


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def remotes(api):
    with urllib.request.urlopen(f"{api}/remotes", timeout=5) as r:
        return {x["name"]: x for x in json.load(r)["remotes"]}


def wait_for(what, condition):
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise SystemExit(f"bench: not in time: {what}")
        time.sleep(0.1)


def open_connections(addr, n):
    """n connected sockets; connect() is non-blocking so the accept queue is never the limit."""
    socks, pending = [], {}
    poller = select.poll()
    end = time.monotonic() + DEADLINE
    started = 0
    while len(socks) < n:
        # Keep at most 512 connects in flight.
        while started < n and len(pending) < 512:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(addr)
            if err not in (0, 115):  # EINPROGRESS
                raise SystemExit(f"bench: connect failed: {os.strerror(err)}")
            pending[s.fileno()] = s
            poller.register(s, select.POLLOUT)
            started += 1
        for fd, _ in poller.poll(1000):
            s = pending.pop(fd)
            poller.unregister(fd)
            e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if e:
                raise SystemExit(f"bench: connect failed: {os.strerror(e)}")
            socks.append(s)
        if time.monotonic() > end:
            raise SystemExit("bench: connections not established in time")
    return socks


def still_open(socks):
    """Sockets the server has not closed (no EOF, no reset)."""
    n = 0
    for s in socks:
        try:
            data = s.recv(64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            n += 1 if data else 0
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def phase(name, addr, api, pid, n, base_connections):
    socks = open_connections(addr, n)
    wait_for(f"{n} connections accepted by {name}",
             lambda: remotes(api)[name]["counters"]["connections"] - base_connections >= n)
    time.sleep(2)  # let every session settle into its hold (and a tarpit dribble a little)
    held = still_open(socks)
    rss = rss_kib(pid)
    for s in socks:
        s.close()
    return held, rss


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < n + 100:
        raise SystemExit(f"bench: the open-files hard limit ({hard}) is below {n} connections")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "fake-remotes"], cwd=ROOT, check=True)

    work = tempfile.mkdtemp()
    scenario = os.path.join(work, "hold.yaml")
    with open(scenario, "w") as f:
        f.write(
            "remotes:\n"
            "  hole: { domains: [hole.test] }\n"
            "  pit:  { domains: [pit.test] }\n"
            "faults:\n"
            "  - { remote: hole, at: 0s, fault: blackhole }\n"
            "  - { remote: pit, at: 0s, fault: { tarpit: { bytes_per_sec: 1 } } }\n"
        )
    server = subprocess.Popen([BIN, scenario, "--api", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        addrs, api = {}, None
        end = time.monotonic() + DEADLINE
        while api is None:
            if time.monotonic() > end:
                raise SystemExit("bench: fake-remotes did not start")
            line = server.stdout.readline()
            if not line:
                raise SystemExit("bench: fake-remotes exited: " + server.stderr.read())
            words = line.split()
            if "listening" in words:
                host, port = words[words.index("on") + 1].rsplit(":", 1)
                addrs[words[2]] = (host, int(port))
            if "API" in words:
                api = line.split("on ", 1)[1].split("/remotes")[0]
        wait_for("the timeline's faults in force",
                 lambda: all(r["faults"] for r in remotes(api).values()))
        idle = rss_kib(server.pid)
        print(f"fake-remotes idle: RSS {idle / 1024:.1f} MiB; {n} connections per phase; "
              f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}")
        print("phase      held    server RSS")
        worst = 0
        for name in ("hole", "pit"):
            base = remotes(api)[name]["counters"]["connections"]
            held, rss = phase(name, addrs[name], api, server.pid, n, base)
            worst = max(worst, rss)
            label = "blackhole" if name == "hole" else "tarpit"
            print(f"{label:<9} {held:>5}/{n}  {rss / 1024:7.1f} MiB")
            if held != n:
                raise SystemExit(f"bench: only {held} of {n} {label} connections were held")
        peak = rss_kib(server.pid, "VmHWM")
        print(f"peak RSS over both phases: {peak / 1024:.1f} MiB "
              f"({'under' if peak < 100 * 1024 else 'OVER'} 100 MB)")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
