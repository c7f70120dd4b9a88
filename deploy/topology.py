"""The production topology of deploy/README.md on one machine's loopback, without systemd or a
container engine: PgBouncer (transaction pooling) in front of PostgreSQL, web processes and the
task worker started from the command lines of deploy/systemd's units, and Debian's nginx with the
site of deploy/nginx, TLS and all, in front of them. The tests bring it up this way; so can anyone
who wants to try the deployment before writing it to a server.

    python deploy/topology.py up --postgres-url postgres://portal@127.0.0.1:5432/portal \\
        --redis-url redis://127.0.0.1:6379/0 [--search-url opensearch+http://127.0.0.1:9200]
    python deploy/topology.py nginx-site --server-name portal.example.org --web-ports 8001,8002
    python deploy/topology.py pgbouncer-config --postgres-url postgres://portal@db:5432/portal

`up` runs the release step (check_services, migrate, collectstatic), starts everything on free
ports with a throwaway self-signed certificate, prints the site's address and stops it all on
Ctrl+C. The other two print the files an operator installs (deploy/README.md).
"""

import argparse
import configparser
import contextlib
import datetime
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# Where the units expect the installation; `up` runs the same command lines from this checkout.
INSTALLED_PYTHON = "/srv/portal/.venv/bin/python"
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def render(template, values):
    """The template with each @NAME@ replaced by values["NAME"]; every one must be given."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    missing = sorted(set(PLACEHOLDER.findall(text)))
    if missing:
        raise ValueError(f"{template.name}: no value for {', '.join(missing)}")
    return text


def unit_command(unit, instance=""):
    """The ExecStart of a deploy/systemd unit as an argument list, for this checkout's Python,
    and the variables its Environment= line sets."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / unit)
    service = parser["Service"]
    command = shlex.split(service["ExecStart"].replace("%i", instance))
    if command[0] == INSTALLED_PYTHON:
        command[0] = sys.executable
    variables = dict(
        assignment.split("=", 1) for assignment in shlex.split(service.get("Environment", ""))
    )
    return command, variables


def nginx_site(
    *,
    server_name,
    web_ports,
    site_url,
    certificate,
    certificate_key,
    static_root,
    media_root,
    private_files_root,
    http_port=80,
    https_port=443,
    acme_root="/var/www/letsencrypt",
    proxy_headers="/etc/nginx/snippets/portal-proxy-headers.conf",
):
    servers = "\n".join(f"    server 127.0.0.1:{port};" for port in web_ports)
    return render(
        DEPLOY / "nginx" / "portal.conf",
        {
            "UPSTREAM_SERVERS": servers,
            "SERVER_NAME": server_name,
            "SITE_URL": site_url.rstrip("/"),
            "HTTP_PORT": http_port,
            "HTTPS_PORT": https_port,
            "CERTIFICATE": certificate,
            "CERTIFICATE_KEY": certificate_key,
            "STATIC_ROOT": str(static_root).rstrip("/"),
            "MEDIA_ROOT": str(media_root).rstrip("/"),
            "PRIVATE_FILES_ROOT": str(private_files_root).rstrip("/"),
            "ACME_ROOT": acme_root,
            "PROXY_HEADERS": proxy_headers,
        },
    )


def pgbouncer_config(
    *,
    postgres_url,
    listen_port=6432,
    server_connections=10,
    auth_type="scram-sha-256",
    auth_file="/etc/pgbouncer/userlist.txt",
    log_file="/var/log/postgresql/pgbouncer.log",
    pid_file="/run/postgresql/pgbouncer.pid",
):
    parts = urlsplit(postgres_url)
    return render(
        DEPLOY / "pgbouncer" / "pgbouncer.ini",
        {
            "DATABASE": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": parts.port or 5432,
            "LISTEN_PORT": listen_port,
            "SERVER_CONNECTIONS": server_connections,
            "AUTH_TYPE": auth_type,
            "AUTH_FILE": auth_file,
            "ADMIN_USER": parts.username or "postgres",
            "LOG_FILE": log_file,
            "PID_FILE": pid_file,
        },
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, log_path, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = Path(log_path).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{process.args[0]} did not listen on {port}:\n{log}") from None
            time.sleep(0.1)


def self_signed_certificate(directory, host="127.0.0.1"):
    """A certificate for `host`, valid for a day, and its key: the loopback copy's TLS."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "site.crt", directory / "site.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


NGINX_MAIN = """\
# The loopback copy's nginx.conf: Debian's nginx run by whoever runs deploy/topology.py.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile {open_files};
events {{ worker_connections {connections}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {site};
}}
"""


class Topology:
    """Everything of the deployment on loopback; `start()` brings it up, `stop()` ends it.

    `postgres_url` is the PostgreSQL PgBouncer fronts (the database must exist); `environment`
    adds to what the processes get (REDIS_URL, SEARCH_URL, SEARCH_INDEX, ...)."""

    # Each proxied WebSocket holds two of nginx's connections (client and upstream).
    nginx_worker_connections = 1024

    def __init__(self, workdir, postgres_url, environment=(), web_processes=2):
        self.workdir = Path(workdir)
        self.postgres_url = postgres_url
        self.extra_environment = dict(environment)
        self.web_ports = [free_port() for _ in range(web_processes)]
        self.pgbouncer_port = free_port()
        self.https_port = free_port()
        self.http_port = free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.processes = {}  # name: Popen, in the order they started
        self.var_dir = self.workdir / "var"
        parts = urlsplit(postgres_url)
        self.database_url = parts._replace(
            netloc=f"{parts.username}@127.0.0.1:{self.pgbouncer_port}"
        ).geturl()

    @property
    def environment(self):
        return {
            "DEBUG": "false",
            "SECRET_KEY": self.secret("secret-key"),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": self.url,
            "BEHIND_TLS_PROXY": "true",
            "TRUSTED_PROXY_COUNT": "1",
            "DATABASE_URL": self.database_url,
            "DATABASE_PGBOUNCER": "true",
            "DATABASE_POOL_SIZE": "4",
            "CHANNEL_LAYER_ENCRYPTION_KEYS": self.secret("channel-layer-key"),
            "TASK_BACKEND": "database",
            "VAR_DIR": str(self.var_dir),
            "MEDIA_ROOT": str(self.var_dir / "media"),
            "PRIVATE_FILES_ROOT": str(self.var_dir / "private"),
            "ATTACHMENT_ACCEL_REDIRECT": "/protected-attachments/",
            **self.extra_environment,
        }

    def secret(self, name):
        """A random secret kept in the work directory, the same for every process."""
        path = self.workdir / name
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
        return path.read_text()

    def log_path(self, name):
        return self.workdir / "logs" / f"{name}.log"

    def spawn(self, name, command, **options):
        with self.log_path(name).open("a") as log:
            self.processes[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, **options
            )
        return self.processes[name]

    def manage(self, *args):
        """Starts manage.py with the processes' environment; finish() waits for it."""
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def finish(command):
        output, errors = command.communicate()
        if command.returncode:
            raise RuntimeError(f"{shlex.join(command.args[1:])} failed:\n{errors[-3000:]}")
        return output

    def start(self):
        for folder in ("logs", "metrics", "pgbouncer", "nginx/temp", "var/media"):
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root, and drops to this user, which must read its files.
            self.workdir.chmod(0o755)
            shutil.chown(self.workdir / "pgbouncer", "postgres")
            shutil.chown(self.workdir / "logs", "postgres")
        # The release step of deploy/README.md, through PgBouncer like everything else;
        # collecting the static files needs no database, so it runs alongside.
        collecting = self.manage("collectstatic", "--noinput")
        self.start_pgbouncer()
        self.finish(self.manage("check_services"))
        self.finish(self.manage("migrate", "--noinput"))
        self.finish(collecting)
        units = {f"web-{port}": ("portal-web@.service", str(port)) for port in self.web_ports}
        units["worker"] = ("portal-worker.service", "")
        for name, (unit, instance) in units.items():
            command, variables = unit_command(unit, instance)
            # The units' metrics folder is systemd's; these processes share one of their own.
            variables["PROMETHEUS_MULTIPROC_DIR"] = str(self.workdir / "metrics")
            environment = {**os.environ, **self.environment, **variables}
            self.spawn(name, command, cwd=ROOT, env=environment)
        for port in self.web_ports:
            wait_for_port(port, self.processes[f"web-{port}"], self.log_path(f"web-{port}"))
        self.start_nginx()
        return self

    def start_pgbouncer(self):
        folder = self.workdir / "pgbouncer"
        user = urlsplit(self.postgres_url).username
        (folder / "userlist.txt").write_text(f'"{user}" ""\n')
        config = folder / "pgbouncer.ini"
        config.write_text(
            pgbouncer_config(
                postgres_url=self.postgres_url,
                listen_port=self.pgbouncer_port,
                server_connections=4,
                auth_type="trust",
                auth_file=folder / "userlist.txt",
                log_file=self.log_path("pgbouncer"),
                pid_file=folder / "pgbouncer.pid",
            )
        )
        command = [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(config)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.processes["pgbouncer"] = process
        wait_for_port(self.pgbouncer_port, process, self.log_path("pgbouncer"))

    def start_nginx(self):
        prefix = self.workdir / "nginx"
        certificate, key = self_signed_certificate(prefix)
        shutil.copy(DEPLOY / "nginx" / "proxy-headers.conf", prefix / "proxy-headers.conf")
        (prefix / "portal.conf").write_text(
            nginx_site(
                server_name="127.0.0.1",
                web_ports=self.web_ports,
                site_url=self.url,
                certificate=certificate,
                certificate_key=key,
                static_root=self.var_dir / "static",
                media_root=self.var_dir / "media",
                private_files_root=self.var_dir / "private",
                http_port=self.http_port,
                https_port=self.https_port,
                acme_root=prefix / "acme",
                proxy_headers=prefix / "proxy-headers.conf",
            )
        )
        main = prefix / "nginx.conf"
        # Run by root (CI), nginx's workers would become "nobody", who cannot read this folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main.write_text(
            NGINX_MAIN.format(
                user=user,
                prefix=prefix,
                site=prefix / "portal.conf",
                connections=self.nginx_worker_connections,
                open_files=self.nginx_worker_connections + 64,
            )
        )
        command = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(prefix), "-c", str(main)]
        process = self.spawn("nginx", [*command, "-g", "daemon off;"])
        wait_for_port(self.https_port, process, prefix / "error.log")

    def stop(self):
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="bring the topology up on loopback until Ctrl+C")
    up.add_argument("--postgres-url", required=True)
    up.add_argument("--redis-url", default="")
    up.add_argument("--search-url", default="")
    up.add_argument("--web-processes", type=int, default=2)
    up.add_argument("--workdir", default="")
    site = commands.add_parser("nginx-site", help="print the nginx site for a server")
    site.add_argument("--server-name", required=True)
    site.add_argument("--web-ports", default="8001,8002")
    site.add_argument("--root", default="/srv/portal", help="the installation folder")
    site.add_argument("--certificate", default="")
    site.add_argument("--certificate-key", default="")
    pgbouncer = commands.add_parser("pgbouncer-config", help="print pgbouncer.ini")
    pgbouncer.add_argument("--postgres-url", required=True)
    pgbouncer.add_argument("--server-connections", type=int, default=10)
    args = parser.parse_args(argv)

    if args.command == "nginx-site":
        letsencrypt = f"/etc/letsencrypt/live/{args.server_name}"
        print(
            nginx_site(
                server_name=args.server_name,
                web_ports=args.web_ports.split(","),
                site_url=f"https://{args.server_name}",
                certificate=args.certificate or f"{letsencrypt}/fullchain.pem",
                certificate_key=args.certificate_key or f"{letsencrypt}/privkey.pem",
                static_root=f"{args.root}/var/static",
                media_root=f"{args.root}/var/media",
                private_files_root=f"{args.root}/var/private",
            ),
            end="",
        )
        return
    if args.command == "pgbouncer-config":
        print(
            pgbouncer_config(
                postgres_url=args.postgres_url, server_connections=args.server_connections
            ),
            end="",
        )
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="portal-topology-"))
    environment = {"REDIS_URL": args.redis_url}
    if args.search_url:
        environment["SEARCH_URL"] = args.search_url
    topology = Topology(workdir, args.postgres_url, environment, args.web_processes)
    with topology:
        print(f"The Protectors' Portal answers at {topology.url} (self-signed certificate)")
        print(f"logs: {workdir / 'logs'}; Ctrl+C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
