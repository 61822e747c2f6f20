#!/usr/bin/env python3
"""Writes the fuzz seed corpus (fuzz/seeds/<target>/) — run from anywhere:

    python3 fuzz/seeds/generate.py                       # query, reply_now, upstream_reply, config
    python3 fuzz/seeds/generate.py target/debug/stubborn  # and snapshot

Query packets are built here (plain, EDNS, EDNS+DO, 0x20 case); replies are
real ones from Knot DNS (knotd, as in the integration tests) serving a
small zone; configs are conf/stubborn.toml and the README's TOML blocks.
The snapshot seed is a file written by the given stubborn binary itself
(`[cache] persist`), in front of the same Knot, after the seed queries and a
SIGTERM. The `found-*` files are inputs that fuzzing found crashes with,
kept so that every run replays them; this script leaves them alone.
"""
import contextlib, os, re, shutil, socket, struct, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORIGIN = "example.test."

ZONE = """$ORIGIN example.test.
$TTL 300
@ 60 IN SOA ns hostmaster 1 3600 900 604800 60
@ 300 IN NS ns
ns 300 IN A 127.0.0.1
www 300 IN A 192.0.2.1
www 60 IN A 192.0.2.2
www 300 IN AAAA 2001:db8::1
alias 3600 IN CNAME www
chain 3600 IN CNAME alias
mail 300 IN MX 10 www
_sip._udp 300 IN SRV 10 5 5060 www
txt 300 IN TXT "v=spf1 -all" "a second string"
""" + "".join(f"big 300 IN A 198.51.100.{i}\n" for i in range(1, 61))

# (file stem, name, qtype, edns: None | (payload, DO), id)
QUERIES = [
    ("www-A", "www.example.test.", 1, None, 0x0001),
    ("www-A-edns", "www.example.test.", 1, (1232, False), 0x0102),
    ("www-A-do", "www.example.test.", 1, (4096, True), 0x0307),
    ("WwW-A-case", "WwW.ExAmPlE.tEsT.", 1, (1232, False), 0x0155),
    ("www-AAAA", "www.example.test.", 28, (1232, False), 0x0101),
    ("chain-A", "chain.example.test.", 1, (1232, False), 0x0103),
    ("mail-MX", "mail.example.test.", 15, None, 0x0010),
    ("srv-SRV", "_sip._udp.example.test.", 33, (1232, True), 0x0311),
    ("txt-TXT", "txt.example.test.", 16, (1232, False), 0x0120),
    ("big-A", "big.example.test.", 1, (4096, False), 0x0505),
    ("nx-A", "nx.example.test.", 1, (1232, False), 0x0130),
    ("www-TXT-nodata", "www.example.test.", 16, None, 0x0040),
    ("apex-SOA", "example.test.", 6, (1232, True), 0x0333),
    ("any", "www.example.test.", 255, None, 0x0050),
]


def wire_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype, edns, qid):
    packet = struct.pack(">HBBHHHH", qid, 0x01, 0x00, 1, 0, 0, 1 if edns else 0)
    packet += wire_name(name) + struct.pack(">HH", qtype, 1)
    if edns:
        payload, do = edns
        packet += b"\0" + struct.pack(">HHIH", 41, payload, 0x8000 if do else 0, 0)
    return packet


def write(target, stem, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, stem), "wb") as f:
        f.write(data)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, packet):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(packet, ("127.0.0.1", port))
        return s.recv(65535)


@contextlib.contextmanager
def knot():
    """knotd serving ZONE on a free port of 127.0.0.1; yields the port."""
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    with tempfile.TemporaryDirectory(prefix="stubborn-seeds-") as d:
        port = free_port()
        with open(f"{d}/knot.conf", "w") as f:
            f.write(f"""server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{d}/db"
template:
  - id: default
    storage: "{d}"
    file: "%s.zone"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: {ORIGIN}
""")
        with open(f"{d}/{ORIGIN}zone", "w") as f:
            f.write(ZONE)
        process = subprocess.Popen([knotd, "-c", f"{d}/knot.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port)
            yield port
        finally:
            process.terminate()
            process.wait()


def wait_for(port):
    for _ in range(100):
        try:
            return ask(port, query(ORIGIN, 6, None, 1))
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on 127.0.0.1:{port}")


def knot_replies(port):
    for stem, name, qtype, edns, qid in QUERIES:
        # Upstream is asked with EDNS always, as stubborn asks it.
        yield stem, ask(port, query(name.lower(), qtype, edns or (1232, False), qid))


def stubborn_snapshot(binary, knot_port):
    """The snapshot `binary` writes after answering QUERIES from Knot."""
    with tempfile.TemporaryDirectory(prefix="stubborn-seeds-") as d:
        port = free_port()
        with open(f"{d}/stubborn.toml", "w") as f:
            f.write(f"""[server]
listen = ["127.0.0.1:{port}"]
[upstream]
servers = ["127.0.0.1:{knot_port}"]
[cache]
persist = "{d}/cache.snapshot"
""")
        process = subprocess.Popen([binary, "--config", f"{d}/stubborn.toml"], stderr=subprocess.DEVNULL)
        try:
            wait_for(port)
            for _, name, qtype, edns, qid in QUERIES:
                ask(port, query(name, qtype, edns, qid))
        finally:
            process.terminate()
            process.wait()
        return open(f"{d}/cache.snapshot", "rb").read()


def main():
    for stem, name, qtype, edns, qid in QUERIES:
        packet = query(name, qtype, edns, qid)
        write("query", stem, packet)
        write("reply_now", stem, packet)
    # What the listeners must shrug off: a response, NOTIFY, EDNS version 1, two questions.
    write("query", "response", bytes([0, 9, 0x81, 0x80]) + query("www.example.test.", 1, None, 9)[4:])
    write("query", "notify", bytes([0, 9, 0x20, 0]) + query("www.example.test.", 6, None, 9)[4:])
    badvers = bytearray(query("www.example.test.", 1, (1232, False), 9))
    badvers[-6] = 1
    write("query", "badvers", bytes(badvers))
    for stem in ["response", "notify", "badvers"]:
        shutil.copy(os.path.join(HERE, "query", stem), os.path.join(HERE, "reply_now", stem))

    with knot() as port:
        for stem, reply in knot_replies(port):
            write("upstream_reply", stem, reply)
        if len(sys.argv) > 1:
            snapshot = stubborn_snapshot(sys.argv[1], port)
            write("snapshot", "cache.snapshot", snapshot)
            # The payload alone: the target frames it with a good header and CRC.
            write("snapshot", "payload", snapshot[24:])

    write("config", "stubborn.toml", open(os.path.join(ROOT, "conf", "stubborn.toml"), "rb").read())
    readme = open(os.path.join(ROOT, "README.md")).read()
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", readme, re.S)):
        write("config", f"readme-{i}.toml", block.encode())


if __name__ == "__main__":
    main()
