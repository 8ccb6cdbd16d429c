"""Real data behind the emulator's instances and clusters (server.py --databases FILE).

Each emulated instance or cluster of a PostgreSQL or MySQL/MariaDB engine owns one real
database on the servers databases.py started, and each snapshot holds a copy of its origin's
data taken when RDS would take it. The endpoints the emulator reports reach that data through
a small proxy:

* an endpoint address is a loopback address of its own (127.A.B.N) that belongs to the *name*
  (instance identifier, cluster writer or reader endpoint), as the DNS name of an RDS endpoint
  does; a connection goes to whichever instance or cluster holds that name now, so a rename
  keeps the data with the instance and moves the endpoint to the new holder;
* the port is one free port per engine, reported as every instance's and cluster's port;
* the proxy rewrites the login (PostgreSQL's startup message, MySQL's handshake response) to
  the real database and its own role, whose password is the instance's current master
  password: SCRAM-SHA-256 and mysql_native_password do not bind the proof to the user name, so
  the client's password is checked by the real server. A user name other than the master
  user's is refused, as a login the database does not know;
* a read replica reads its source's database (no lag) through a read-only session; promoting
  it (or deleting its source) gives it a copy of its own; a cluster's instances and endpoints
  read the cluster's database, the reader endpoint read-only.

What copies data: a restore from a snapshot (the snapshot's), a point-in-time restore and a
copy-on-write clone (the source's, now: no history is kept, so the restore time is not
honoured), a snapshot (its origin's at that moment; an automated snapshot of a new resource its
initial data; /_emulator/backup takes a resource's automated snapshots again, as a nightly
backup would) and a snapshot copy. A delete drops it.
"""

import asyncio
import json
import random
import socket
import string
import struct
import subprocess
import sys
import threading
import time

SERVERS = {}  # what databases.py wrote: {"postgres": {...}, "mysql": {...}}
PREFIX = ""  # this emulator's mark on its real databases' names (new_identity)
OWN = {}  # id(resource or snapshot) -> (object, real database name, engine family)
PENDING = {}  # id(new resource) -> snapshots waiting for its initial data
COUNT = [0]
ADDRESSES = {}  # (account, region, kind, name) -> loopback address; kind: instance/writer/reader
ROUTES = {}  # loopback address -> (account, region, kind, name)
PASSWORDS = {}  # real role -> password last set on it
NET = (0, 0)  # this emulator's loopback network, 127.A.B.x (new_identity)
PORTS = {}  # engine family -> the proxy's port
LOOP = None
LOCK = threading.RLock()  # the server's lock, given at enable()


def new_identity():
    """Names and addresses of this emulator's own, apart from any other emulator's on the same
    database servers (called at import, and again in each emulator a zygote forks)."""
    global PREFIX, NET
    PREFIX = "e" + "".join(random.choices(string.ascii_lowercase + string.digits, k=6))
    NET = (random.randint(1, 254), random.randint(0, 255))


new_identity()


def enabled():
    return bool(SERVERS)


def family(engine):
    engine = (engine or "").lower()
    if "postgres" in engine:
        return "postgres"
    if "mysql" in engine or "mariadb" in engine:
        return "mysql"
    return None


def enable(path, lock):
    global LOOP, LOCK
    with open(path) as f:
        SERVERS.update(json.load(f))
    LOCK = lock
    LOOP = asyncio.new_event_loop()
    threading.Thread(target=LOOP.run_forever, daemon=True).start()
    for fam in ("postgres", "mysql"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            PORTS[fam] = s.getsockname()[1]


# ---- the real servers, through their command-line clients -------------------------------------

def admin(fam, sql, database=None):
    """Runs SQL as the server's superuser (over its Unix socket); SQL goes on stdin so that no
    password shows in a process list. Returns stdout."""
    if fam == "postgres":
        pg = SERVERS["postgres"]
        cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg["socket_dir"],
               "-p", str(pg["port"]), "-U", "postgres", "-d", database or "postgres", "-f", "-"]
    else:
        my = SERVERS["mysql"]
        cmd = ["mariadb", "--batch", "--skip-column-names", f"--socket={my['socket']}", "-uroot"]
        if database:
            cmd.append(database)
    out = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"{fam}: {out.stderr.strip()}")
    return out.stdout


def literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def new_name():
    COUNT[0] += 1
    return f"{PREFIX}_d{COUNT[0]}"


def create(fam, name, source=None):
    """A new real database `name` with its login: empty, or a copy of database `source`."""
    if fam == "postgres":
        admin(fam, f'CREATE ROLE "{name}" LOGIN SUPERUSER;')
        template = f' TEMPLATE "{source}"' if source else ""
        for attempt in range(50):
            try:
                admin(fam, f'CREATE DATABASE "{name}"{template};')
                break
            except RuntimeError as e:
                # A template must have no session open: wait for a client to finish.
                if "being accessed by other users" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.1)
        if source:
            # The copy's objects belong to its own login, so the source's can be dropped.
            admin(fam, f'REASSIGN OWNED BY "{source}" TO "{name}";', database=name)
    else:
        script = [f"CREATE DATABASE `{name}`;"]
        for suffix, grant in (("", "ALL PRIVILEGES"), ("_ro", "SELECT")):
            script.append(f"CREATE USER '{name}{suffix}'@'127.0.0.1';")
            script.append(f"GRANT {grant} ON `{name}`.* TO '{name}{suffix}'@'127.0.0.1';")
        if source:
            tables = admin(fam, "SELECT table_name FROM information_schema.tables "
                           f"WHERE table_schema = '{source}' AND table_type = 'BASE TABLE';")
            for t in tables.split():
                script.append(f"CREATE TABLE `{name}`.`{t}` LIKE `{source}`.`{t}`;")
                script.append(f"INSERT INTO `{name}`.`{t}` SELECT * FROM `{source}`.`{t}`;")
        admin(fam, "\n".join(script))


def drop(fam, name):
    if fam == "postgres":
        admin(fam, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
        try:
            admin(fam, f'DROP ROLE IF EXISTS "{name}";')
        except RuntimeError:
            pass  # it still owns objects in a copy that has not taken them over: harmless
    else:
        admin(fam, f"DROP DATABASE IF EXISTS `{name}`; DROP USER IF EXISTS "
                   f"'{name}'@'127.0.0.1', '{name}_ro'@'127.0.0.1';")
    for role in (name, name + "_ro"):
        PASSWORDS.pop(role, None)


def set_password(fam, role, password):
    if PASSWORDS.get(role) == password:
        return
    if fam == "postgres":
        admin(fam, f'ALTER ROLE "{role}" PASSWORD {literal(password)};')
    else:
        quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
        admin(fam, f"ALTER USER '{role}'@'127.0.0.1' IDENTIFIED BY {quoted};")
    PASSWORDS[role] = password


# ---- which data a resource reads ---------------------------------------------------------------

def engine_of(obj):
    return family(getattr(obj, "engine", None))


def holder(obj):
    """What holds the data `obj` reads: itself when it owns a database (a resource or a
    snapshot), a cluster member its cluster, a read replica its source (following a chain of
    replicas)."""
    seen = 0
    while obj is not None and seen < 20:
        seen += 1
        if id(obj) in OWN:
            return obj
        cluster_id = getattr(obj, "db_cluster_identifier", None)
        if cluster_id and hasattr(obj, "db_instance_identifier"):
            return obj.backend.clusters.get(cluster_id)
        source = getattr(obj, "source_db_instance_identifier", None)
        if not source:
            return obj
        obj = obj.backend.databases.get(source)
    return None


def real(obj):
    entry = OWN.get(id(obj))
    return entry[1] if entry else None


def give(obj, fam, origin):
    """`obj` owns a new real database: a copy of real database `origin`, or empty."""
    name = new_name()
    create(fam, name, origin)
    assert id(obj) not in OWN, "a resource or snapshot is given its data once"
    OWN[id(obj)] = (obj, name, fam)


def own(obj, source=None):
    """Gives a new instance or cluster its own database: a copy of `source`'s data (a snapshot,
    an instance or a cluster), or empty. Then the snapshots taken while it was being made get
    its initial data."""
    fam = engine_of(obj)
    if not enabled() or fam is None:
        return
    with LOCK:
        give(obj, fam, real(holder(source)) if source is not None else None)
        obj.port = PORTS[fam]
        for snap in PENDING.pop(id(obj), []):
            capture(snap, obj)


def fork(obj):
    """A replica stops reading its source (promoted, or its source deleted): it keeps a copy."""
    if not enabled() or engine_of(obj) is None or id(obj) in OWN:
        return
    with LOCK:
        give(obj, engine_of(obj), real(holder(obj)))


def capture(snap, origin):
    """`snap` holds a copy of what `origin` (an instance or cluster) holds now."""
    fam = engine_of(origin)
    if not enabled() or fam is None:
        return
    with LOCK:
        source = holder(origin)
        if real(source) is None:
            # Taken while its instance is being made: it gets the initial data.
            PENDING.setdefault(id(origin), []).append(snap)
            return
        forget(snap)
        give(snap, fam, real(source))


def copy_snapshot(new, old):
    """A snapshot copy (`new`) holds a copy of `old`'s data."""
    with LOCK:
        entry = OWN.get(id(old))
        if entry is not None:
            give(new, entry[2], entry[1])


def forget(obj):
    """Drops what `obj` owns (a deleted instance, cluster or snapshot)."""
    if not enabled():
        return
    with LOCK:
        entry = OWN.pop(id(obj), None)
        PENDING.pop(id(obj), None)
    if entry is not None:
        drop(entry[2], entry[1])


def reset():
    """The emulator's reset: every real database it made goes."""
    with LOCK:
        entries = list(OWN.values())
        OWN.clear()
        PENDING.clear()
    for _, name, fam in entries:
        drop(fam, name)


def inventory(alive):
    """What holds data: `owned` (real databases the emulator's resources and snapshots hold),
    `orphans` (those held by objects no longer in the emulator: `alive` is the ids of every
    instance, cluster and snapshot it has), `server` (this emulator's databases on the
    servers). A delete that did not drop its data shows as an orphan or an extra database."""
    with LOCK:
        owned = sorted(name for _, name, _ in OWN.values())
        orphans = sorted(name for key, (_, name, _) in OWN.items() if key not in alive)
    server = []
    if "postgres" in SERVERS:
        server += admin("postgres", "SELECT datname FROM pg_database "
                        f"WHERE datname LIKE '{PREFIX}\\_%';").split()
    if "mysql" in SERVERS:
        server += admin("mysql", f"SHOW DATABASES LIKE '{PREFIX}\\_%';").split()
    return {"owned": owned, "orphans": orphans, "server": sorted(server)}


# ---- endpoints --------------------------------------------------------------------------------

def address(backend, kind, name):
    """The loopback address of an endpoint name, listening from the first time it is shown."""
    key = (backend.account_id, backend.region_name, kind, name)
    with LOCK:
        ip = ADDRESSES.get(key)
        if ip is None:
            n = len(ADDRESSES) + 1
            ip = f"127.{NET[0]}.{NET[1] + n // 250 % 256}.{n % 250 + 1}"
            ADDRESSES[key] = ip
            ROUTES[ip] = key
            for fam, port in PORTS.items():
                asyncio.run_coroutine_threadsafe(
                    asyncio.start_server(lambda r, w, fam=fam, ip=ip: serve(fam, ip, r, w),
                                         ip, port), LOOP).result(10)
    return ip


def route(fam, ip, user):
    """(real database, role, password) for a login to `ip`, or an error message."""
    from moto.rds.models import rds_backends
    with LOCK:
        account, region, kind, name = ROUTES[ip]
        # Looked up now: the emulator's reset replaces the backends.
        backend = rds_backends[account][region]
        if kind == "instance":
            target = backend.databases.get(name)
            if target is None:
                return f'the DB instance "{name}" does not exist (or is being renamed)'
            read_only = bool(getattr(target, "source_db_instance_identifier", None)) \
                and id(target) not in OWN
            if getattr(target, "db_cluster_identifier", None):
                read_only = not getattr(target, "is_cluster_writer", True)
        else:
            target = backend.clusters.get(name)
            if target is None:
                return f'the DB cluster "{name}" does not exist (or is being renamed)'
            read_only = kind == "reader"
        if engine_of(target) != fam:
            return f"{name} does not speak this protocol"
        data = holder(target)
        db = real(data)
        if db is None:
            return f"{name} has no data yet"
        expected = data.master_username
        if user != expected:
            return f'password authentication failed for user "{user}"'
        password = getattr(data, "_master_user_password", None) or ""
        role = db + ("_ro" if read_only and fam == "mysql" else "")
        set_password(fam, role, password)
        return db, role, read_only


async def serve(fam, ip, reader, writer):
    try:
        if fam == "postgres":
            await serve_postgres(ip, reader, writer)
        else:
            await serve_mysql(ip, reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except Exception as e:  # a client's mistake must never stop the proxy
        print(f"emulator data proxy: {e!r}", file=sys.stderr)
    finally:
        writer.close()


async def pipe(reader, writer):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def relay(client_r, client_w, server_r, server_w):
    await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))


async def lookup(fam, ip, user):
    return await asyncio.get_running_loop().run_in_executor(None, route, fam, ip, user)


# PostgreSQL: SSLRequest / GSSENCRequest get "N" (no encryption), then the startup message.
async def serve_postgres(ip, reader, writer):
    while True:
        length, code = struct.unpack("!II", await reader.readexactly(8))
        body = await reader.readexactly(length - 8)
        if code in (80877103, 80877104):
            writer.write(b"N")
            await writer.drain()
            continue
        break
    if code == 80877102:  # a cancel request goes to the server as it is
        server_r, server_w = await asyncio.open_connection(
            "127.0.0.1", SERVERS["postgres"]["port"])
        server_w.write(struct.pack("!II", length, code) + body)
        await server_w.drain()
        server_w.close()
        return
    parts = body.split(b"\0")
    params = {k: v for k, v in zip(parts[0::2], parts[1::2]) if k}
    user = params.get(b"user", b"").decode()
    found = await lookup("postgres", ip, user)
    if isinstance(found, str):
        message = b"SFATAL\0VFATAL\0C28P01\0M" + found.encode() + b"\0\0"
        writer.write(b"E" + struct.pack("!I", len(message) + 4) + message)
        await writer.drain()
        return
    db, role, read_only = found
    params[b"user"] = role.encode()
    params[b"database"] = db.encode()
    if read_only:
        options = params.get(b"options", b"")
        params[b"options"] = (options + b" -c default_transaction_read_only=on").strip()
    body = b"".join(k + b"\0" + v + b"\0" for k, v in params.items()) + b"\0"
    server_r, server_w = await asyncio.open_connection("127.0.0.1",
                                                       SERVERS["postgres"]["port"])
    server_w.write(struct.pack("!II", len(body) + 8, code) + body)
    await server_w.drain()
    # Until the login is over, the server's messages name the real role: the client hears its
    # own user name. The client's side of the exchange (SCRAM) flows meanwhile.
    upstream = asyncio.ensure_future(pipe(reader, server_w))
    while True:
        kind = await server_r.readexactly(1)
        size = struct.unpack("!I", await server_r.readexactly(4))[0]
        message = await server_r.readexactly(size - 4)
        if kind == b"E":
            message = message.replace(role.encode(), user.encode())
            size = len(message) + 4
        writer.write(kind + struct.pack("!I", size) + message)
        await writer.drain()
        if kind == b"E" or (kind == b"R" and message[:4] == b"\0\0\0\0"):
            break
    await asyncio.gather(upstream, pipe(server_r, writer))


async def read_packet(reader):
    head = await reader.readexactly(4)
    length = head[0] | head[1] << 8 | head[2] << 16
    return head[3], await reader.readexactly(length)


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000


def lenenc(data, i):
    first = data[i]
    if first < 0xFB:
        return first, i + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[i + 1:i + 1 + size], "little"), i + 1 + size


# MySQL: the server speaks first; the proxy passes its greeting on (without TLS), rewrites the
# client's handshake response (user, database), then relays.
async def serve_mysql(ip, reader, writer):
    server_r, server_w = await asyncio.open_connection("127.0.0.1", SERVERS["mysql"]["port"])
    seq, greeting = await read_packet(server_r)
    if greeting[:1] == b"\xff":
        writer.write(packet(seq, greeting))
        return
    version_end = greeting.index(b"\0", 1)
    caps_at = version_end + 1 + 4 + 8 + 1
    caps = struct.unpack("<H", greeting[caps_at:caps_at + 2])[0] & ~CLIENT_SSL
    greeting = greeting[:caps_at] + struct.pack("<H", caps) + greeting[caps_at + 2:]
    writer.write(packet(seq, greeting))
    await writer.drain()
    seq, response = await read_packet(reader)
    caps = struct.unpack("<I", response[:4])[0]
    i = 4 + 4 + 1 + 23
    user_end = response.index(b"\0", i)
    user = response[i:user_end].decode()
    i = user_end + 1
    if caps & CLIENT_PLUGIN_AUTH_LENENC:
        size, j = lenenc(response, i)
        auth_end = j + size
    elif caps & CLIENT_SECURE_CONNECTION:
        auth_end = i + 1 + response[i]
    else:
        auth_end = response.index(b"\0", i) + 1
    auth = response[i:auth_end]
    rest = response[auth_end:]
    if caps & CLIENT_CONNECT_WITH_DB:
        rest = rest[rest.index(b"\0") + 1:]
    found = await lookup("mysql", ip, user)
    if isinstance(found, str):
        error = b"\xff" + struct.pack("<H", 1045) + b"#28000" + found.encode()
        writer.write(packet(seq + 1, error))
        await writer.drain()
        server_w.close()
        return
    db, role, _ = found
    caps |= CLIENT_CONNECT_WITH_DB
    response = (struct.pack("<I", caps) + response[4:32] + role.encode() + b"\0" + auth
                + db.encode() + b"\0" + rest)
    server_w.write(packet(seq, response))
    await server_w.drain()
    # A refused login names the real user: the client hears its own user name.
    seq, answer = await read_packet(server_r)
    if answer[:1] == b"\xff":
        answer = answer.replace(role.encode(), user.encode())
    writer.write(packet(seq, answer))
    await writer.drain()
    await relay(reader, writer, server_r, server_w)
